"""Planning: the asset graph, selections, partition windows, freshness rules and the pure planner."""
