"""A Spark standalone cluster on 127.0.0.1 for tests and the benchmark: one master and one worker
started from the pyspark package with `spark-class` (the wheel has no start-master.sh), each
with PR_SET_PDEATHSIG so it dies with the process that started it (a crashed test leaves no
daemon behind), stopped by pid.

`spark-class` execs java, so the Popen pid is the JVM's own. The daemons log at INFO into files
of their own (their own SPARK_CONF_DIR): the master's web UI address, on a port the OS picks, is
read from its log, and the worker counts as up when the master's /json/ lists it alive.
"""
from __future__ import annotations

import ctypes
import json
import os
import re
import signal
import socket
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

_DAEMON_LOG4J = """rootLogger.level = info
rootLogger.appenderRef.stdout.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{HH:mm:ss} %p %c{1}: %m%n
"""
START_TIMEOUT = 90.0          # a loaded 2-core machine: the master takes 2.5 s idle, the worker 6 s


@dataclass
class Cluster:
    url: str                    # spark://127.0.0.1:PORT
    ui: str                     # the master's web UI (JSON at /json/)
    folder: Path
    processes: list[subprocess.Popen] = field(default_factory=list)   # worker first, then master


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _die_with_parent() -> None:
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)     # PR_SET_PDEATHSIG


def _spark_class() -> str:
    import pyspark
    return os.path.join(os.path.dirname(pyspark.__file__), "bin", "spark-class")


def _environment(folder: Path) -> dict[str, str]:
    conf = folder / "conf"
    conf.mkdir(parents=True, exist_ok=True)
    (conf / "log4j2.properties").write_text(_DAEMON_LOG4J)
    return dict(os.environ, SPARK_CONF_DIR=str(conf), SPARK_LOCAL_IP="127.0.0.1",
                SPARK_WORKER_DIR=str(folder / "work"), SPARK_LOCAL_DIRS=str(folder / "local"),
                SPARK_DAEMON_MEMORY="512m")


def _launch(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    with open(log, "wb") as out:
        return subprocess.Popen([_spark_class(), *args], env=env, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True, preexec_fn=_die_with_parent)


def _wait_for(what: str, probe, processes: list[subprocess.Popen], logs: list[Path]):
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        dead = [p for p in processes if p.poll() is not None]
        if dead:
            break
        time.sleep(0.2)
    tails = "\n".join(f"--- {log.name}\n" + log.read_text(errors="replace")[-2000:] for log in logs if log.exists())
    raise RuntimeError(f"the standalone cluster did not come up ({what}):\n{tails}")


def _alive_workers(ui: str) -> int:
    try:
        with urllib.request.urlopen(ui.rstrip("/") + "/json/", timeout=2) as response:
            return int(json.load(response).get("aliveworkers", 0))
    except (OSError, ValueError):      # not serving yet
        return 0


def start(folder: Path, cores: int = 1, memory: str = "1g", worker: bool = True) -> Cluster:
    """A master and (unless not `worker`) one worker with `cores` cores, registered; stop() them
    (try/finally)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    env = _environment(folder)
    port = free_port()
    url = f"spark://127.0.0.1:{port}"
    master_log, worker_log = folder / "master.log", folder / "worker.log"
    cluster = Cluster(url, "", folder)
    try:
        master = _launch(["org.apache.spark.deploy.master.Master", "--host", "127.0.0.1", "--port", str(port),
                          "--webui-port", "0"], env, master_log)
        cluster.processes.append(master)

        def ui_address():
            match = re.search(r"MasterWebUI.*started at (http://\S+)", master_log.read_text(errors="replace"))
            return match.group(1) if match else None
        cluster.ui = _wait_for("master web UI", ui_address, cluster.processes, [master_log])
        if not worker:
            return cluster
        worker_process = _launch(["org.apache.spark.deploy.worker.Worker", url, "--host", "127.0.0.1", "--cores", str(cores),
                          "--memory", memory, "--webui-port", "0"], env, worker_log)
        cluster.processes.insert(0, worker_process)
        _wait_for("worker registered", lambda: _alive_workers(cluster.ui) >= 1, cluster.processes,
                  [master_log, worker_log])
    except BaseException:
        stop(cluster)
        raise
    return cluster


def stop(cluster: Cluster, grace: float = 15.0) -> None:
    """SIGTERM the worker, then the master, by pid; SIGKILL what is still alive after `grace`."""
    for process in cluster.processes:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGTERM)
    for process in cluster.processes:
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(5)
