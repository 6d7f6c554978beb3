"""Starting (or reusing) the SparkSession of a Spark target: quiet, UTC, ANSI, on loopback.

pyspark is imported here and in the other engines/spark*.py modules only, and only when a command
runs SQL: loading, planning, `status`, `graph` and `runs` read assetflow's own state and start no
JVM (SPARK-FACTS section 1 has the settings and what they cost).
"""
from __future__ import annotations

import importlib.util
import logging
import os
import re
import socket
import tempfile
import warnings
from pathlib import Path

from assetflow.errors import TargetError, UsageError

LOG = logging.getLogger("assetflow.spark")   # DEBUG (assetflow --debug) lets Spark's own log through
CONNECT_TIMEOUT = 5.0
_QUIET_LOG4J = """rootLogger.level = {level}
rootLogger.appenderRef.stdout.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{{HH:mm:ss}} %p %c{{1}}: %m%n
logger.nativecode.name = org.apache.hadoop.util.NativeCodeLoader
logger.nativecode.level = error
logger.parquet.name = org.apache.parquet
logger.parquet.level = error
logger.pyshell.name = org.apache.spark.api.python.PythonGatewayServer
logger.pyshell.level = {level}
"""
# Without --debug nothing of Spark's own log reaches the terminal: its errors reach assetflow as
# exceptions (reported once, as on DuckDB), and at ERROR level FileFormatWriter alone prints a Java
# stack for every failed write. pyspark counts as a shell, so Spark resets the root level to the
# level of the logger of the class that starts it, `org.apache.spark.api.python.PythonGatewayServer` (WARN
# unless set, printing "Setting default log level"); it is set to the same level here.
QUIET_LEVEL, DEBUG_LEVEL = "fatal", "info"


def require_pyspark(target) -> None:
    """A Spark target without pyspark installed: say how to install it (exit 2)."""
    try:
        missing = importlib.util.find_spec("pyspark") is None
    except (ImportError, ValueError):      # a broken or blocked install counts as none
        missing = True
    if missing:
        raise UsageError(f"target '{target.name}' uses engine = \"spark\", but pyspark is not installed",
                         path="assetflow.toml", hint="pip install 'assetflow[spark]' (pyspark 4; Java 17 on PATH)")


def start_session(target, scratch: Path):
    """The target's SparkSession: an existing active one is reused (one SparkContext per JVM),
    else one is started with assetflow's settings. Returns (session, created)."""
    _reachable(target)
    debug = LOG.isEnabledFor(logging.DEBUG)
    _quiet_environment(scratch, debug)
    from pyspark.sql import SparkSession
    if target.remote is None:
        active = SparkSession.getActiveSession()
        if active is not None:
            _session_settings(active)
            return active, False
    builder = SparkSession.builder.appName("assetflow")
    if target.remote is not None:
        builder = builder.remote(target.remote)
    else:
        builder = builder.master(target.master)
        for key, value in _classic_settings(target, scratch).items():
            builder = builder.config(key, value)
    for key, value in target.conf:
        builder = builder.config(key, value)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            session = builder.getOrCreate()
    except Exception as exc:  # py4j / grpc: the JVM or server could not start
        raise TargetError(f"target '{target.name}': Spark did not start: {_first_line(exc)}",
                          path="assetflow.toml", hint="check `master`/`remote` and that java is on PATH") from None
    _session_settings(session)
    return session, True


def _classic_settings(target, scratch: Path) -> dict[str, str]:
    derby = scratch / "derby"
    return {
        "spark.ui.enabled": "false", "spark.ui.showConsoleProgress": "false",
        "spark.driver.host": "127.0.0.1", "spark.driver.bindAddress": "127.0.0.1",
        "spark.sql.warehouse.dir": str(Path(target.warehouse) / "_spark") if "://" not in target.warehouse
        else target.warehouse.rstrip("/") + "/_spark",
        "spark.sql.session.timeZone": "UTC", "spark.sql.ansi.enabled": "true",
        "spark.sql.shuffle.partitions": str(max(2, target.threads)),
        "spark.driver.extraJavaOptions": f"-Dderby.system.home={derby}",
    }


def _session_settings(session) -> None:
    """What every assetflow session needs, static settings aside (they are the builder's)."""
    for key, value in (("spark.sql.session.timeZone", "UTC"), ("spark.sql.ansi.enabled", "true"),
                       ("spark.sql.sources.partitionOverwriteMode", "static")):
        session.conf.set(key, value)
    try:
        from pyspark.logger import PySparkLogger
        PySparkLogger.getLogger("SQLQueryContextLogger").setLevel(logging.CRITICAL)
    except ImportError:
        pass


def _quiet_environment(scratch: Path, debug: bool) -> None:
    """log4j settings and the loopback address, before the JVM starts (they are read once)."""
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    if "SPARK_CONF_DIR" in os.environ:
        return
    conf = scratch / ("spark-conf-debug" if debug else "spark-conf")
    conf.mkdir(parents=True, exist_ok=True)
    (conf / "log4j2.properties").write_text(_QUIET_LOG4J.format(level=DEBUG_LEVEL if debug else QUIET_LEVEL))
    os.environ["SPARK_CONF_DIR"] = str(conf)


def _reachable(target) -> None:
    """A cluster or Connect server that does not answer is an error within seconds, not a hang
    (a standalone driver retries its master for a minute)."""
    url = target.remote or target.master or ""
    match = re.match(r"(?:spark|sc)://([^/:,]+)(?::(\d+))?", url)
    if match is None:
        return
    host, port = match.group(1), int(match.group(2) or (15002 if url.startswith("sc:") else 7077))
    try:
        socket.create_connection((host, port), timeout=CONNECT_TIMEOUT).close()
    except OSError as exc:
        what = "Spark Connect server" if url.startswith("sc:") else "Spark master"
        key = "remote" if url.startswith("sc:") else "master"
        raise TargetError(f"target '{target.name}': the {what} at {host}:{port} does not answer "
                          f"({exc.strerror or exc})", path="assetflow.toml",
                          hint=f"start it, or fix `{key}` in [targets.{target.name}]") from None


def scratch_dir(state_path: str) -> Path:
    """Where the Spark conf and Derby files go: beside the state store (or a temp dir)."""
    folder = Path(state_path).parent if state_path != ":memory:" else Path(tempfile.gettempdir())
    return folder / "spark"


def job_group(session):
    """Tag the Spark jobs this thread starts from now on with a group of their own; returns what
    cancels that group (a step's timeout). Classic sessions: a job group whose cancel interrupts
    the tasks' threads; Spark Connect: an operation tag."""
    import uuid
    group = f"assetflow-{uuid.uuid4().hex[:12]}"
    if _is_connect(session):
        session.addTag(group)
        return lambda: session.interruptTag(group)
    context = session.sparkContext
    context.setJobGroup(group, "assetflow step", interruptOnCancel=True)
    return lambda: context.cancelJobGroup(group)


def interrupt(session) -> None:
    """Cancel every running Spark job of this session (Ctrl-C, SIGTERM)."""
    try:
        if hasattr(session, "sparkContext") and not _is_connect(session):
            session.sparkContext.cancelAllJobs()
        else:
            session.interruptAll()
    except Exception:   # the session may already be gone
        pass


def _is_connect(session) -> bool:
    return type(session).__module__.startswith("pyspark.sql.connect")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
