"""dbt in a warm worker process: dbt's import and first invocation cost seconds, paid once and in parallel.

A `lakemesh run` starts the worker before it loads anything else, so dbt
imports on the second core while Dagster and the Python assets work; each
model then costs one in-process `dbtRunner` call with the already-parsed
manifest (no subprocess, no re-parse). The worker also keeps dbt's global state
(logging, flags, its DuckDB connection) out of the Dagster process. It dies
with its parent (Linux `PR_SET_PDEATHSIG`), so a killed run leaves no dbt behind.

Protocol: one JSON request per line on the worker's stdin, one JSON answer
per line on the descriptor it was handed; dbt's own output goes to the log
file each request names.
"""

from __future__ import annotations

import atexit
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["DbtInvocation", "DbtWorker", "NodeResult", "dbt_one_line", "dbt_worker", "read_manifest"]


@dataclass(frozen=True, kw_only=True)
class NodeResult:
    """What dbt did with one node of an invocation."""

    status: str
    message: str | None
    compiled_code: str | None


@dataclass(frozen=True, kw_only=True)
class DbtInvocation:
    """The outcome of one dbt command, taken from the invocation itself (never from files a previous one left)."""

    success: bool
    error: str | None
    results: Mapping[str, NodeResult]
    """By node unique id."""


class DbtWorker:
    """A client for one dbt worker process, started on demand and restarted if it died."""

    def __init__(self) -> None:
        self._process: subprocess.Popen[bytes] | None = None
        self._answers: Any = None
        self._lock = threading.Lock()

    def start(self, *, project_dir: Path | None = None) -> None:
        """Start the worker now: it imports dbt and warms up on `project_dir` in the background.

        A no-op when it runs already.
        """
        with self._lock:
            self._ensure_started(project_dir)

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def _ensure_started(self, project_dir: Path | None = None) -> None:
        if self.running:
            return
        read_end, write_end = os.pipe()
        self._process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "lakemesh.producers.dbt_worker",
                str(write_end),
                str(os.getpid()),
                str(project_dir or ""),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            pass_fds=(write_end,),
            start_new_session=True,  # a Ctrl-C reaches the run, which stops the worker itself
        )
        os.close(write_end)
        self._answers = os.fdopen(read_end, "rb")

    def invoke(
        self,
        args: Sequence[str],
        *,
        project_dir: Path,
        log_file: Path,
        manifest: Path | None = None,
        env: Mapping[str, str] | None = None,
    ) -> DbtInvocation:
        """Run one dbt command (`["build", "--select", ...]`) in the worker; dbt's output goes to `log_file`.

        With `manifest`, dbt uses that parsed manifest instead of parsing the project again.
        `env` replaces the worker's `LAKEMESH_*` variables for this command (the caller's run decides).
        """
        request = {
            "args": [*args, "--project-dir", str(project_dir), "--profiles-dir", str(project_dir)],
            "manifest": str(manifest) if manifest else None,
            "log_file": str(log_file),
            "env": dict(env if env is not None else {k: v for k, v in os.environ.items() if k.startswith("LAKEMESH_")}),
        }
        with self._lock:
            self._ensure_started()
            assert self._process is not None and self._process.stdin is not None
            try:
                self._process.stdin.write(json.dumps(request).encode() + b"\n")
                self._process.stdin.flush()
                line = self._answers.readline()
            except BrokenPipeError:
                line = b""
            except BaseException:  # interrupted mid-command: stop dbt now rather than let it finish unseen
                self._stop_locked()
                raise
            if not line:
                code = self._process.wait()
                self._process = None
                return DbtInvocation(
                    success=False, error=f"the dbt worker process exited (code {code}); see {log_file}", results={}
                )
        answer = json.loads(line)
        return DbtInvocation(
            success=answer["success"],
            error=answer["error"],
            results={uid: NodeResult(**node) for uid, node in answer["results"].items()},
        )

    def close(self) -> None:
        """Stop the worker now."""
        with self._lock:
            self._stop_locked()

    def _stop_locked(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.stdin:
            process.stdin.close()
        process.kill()  # it holds nothing worth finishing: a model's DuckDB file belongs to its step alone
        process.wait()
        self._answers.close()


def read_manifest(path: Path) -> Any:
    """dbt's own typed manifest (`WritableManifest`, its schema version checked), in whichever process has dbt."""
    import dbt.include.global_project  # noqa: F401  (registers the model languages this dbt's manifests name)
    from dbt.artifacts.schemas.manifest import WritableManifest

    return WritableManifest.read_and_check_versions(str(path))


def dbt_one_line(message: str) -> str:
    """dbt's error in one line: its heading ("Runtime Error in model x (path)") and the cause beneath it."""
    return " ".join(line.strip() for line in message.strip().splitlines()[:3] if line.strip())


_WORKER = DbtWorker()
atexit.register(_WORKER.close)


def dbt_worker() -> DbtWorker:
    """The process's one dbt worker: dbt runs one command at a time anyway."""
    return _WORKER


# ----- the worker side ---------------------------------------------------------------------------------------------


def _die_with_parent(parent: int) -> None:
    """Ask Linux to kill this process when its parent dies, so no dbt outlives a killed run."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: the closed stdin still ends the worker between commands
        return
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


class _Server:
    """Runs requests with dbtRunner, caching parsed manifests by file and modification time."""

    def __init__(self, project_dir: str) -> None:
        from dbt.cli.main import dbtRunner  # the seconds this worker exists to pay early

        import lakemesh.producers.dbt_plugin  # noqa: F401  (the plugin's imports: deltalake, polars)

        self._runner_class = dbtRunner
        self._manifests: dict[tuple[str, int], Any] = {}
        if project_dir:  # warm up: dbt validates its project and profile schemas once per process
            dbtRunner().invoke(["debug", "--config-dir", "--project-dir", project_dir, "--profiles-dir", project_dir])
            manifest = Path(project_dir) / "target" / "manifest.json"
            if manifest.is_file():
                self._manifest(str(manifest))

    def _manifest(self, path: str) -> Any:
        from dbt.contracts.graph.manifest import Manifest

        key = (path, os.stat(path).st_mtime_ns)
        if key not in self._manifests:
            self._manifests = {key: Manifest.from_writable_manifest(read_manifest(Path(path)))}
        return self._manifests[key]

    def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        for name in [k for k in os.environ if k.startswith("LAKEMESH_")]:
            del os.environ[name]
        os.environ.update(request["env"])
        manifest = self._manifest(request["manifest"]) if request["manifest"] else None
        try:
            outcome = self._runner_class(manifest=manifest).invoke(request["args"])
        finally:
            _release_duckdb()
        results = {}
        for node_result in getattr(outcome.result, "results", None) or []:
            node = node_result.node
            results[node.unique_id] = {
                "status": str(node_result.status),
                "message": node_result.message,
                "compiled_code": getattr(node, "compiled_code", None),
            }
        error = None
        if outcome.exception is not None:  # e.g. "Parsing Error / Error reading lakemesh: sales/schema.yml - ..."
            error = dbt_one_line(str(outcome.exception)) or type(outcome.exception).__name__
        return {"success": bool(outcome.success), "error": error, "results": results}


def _release_duckdb() -> None:
    """Close the model's DuckDB file (so the platform can read it) and forget it (so the next command opens its own).

    dbt-duckdb keeps one database environment per process across commands; its public
    `env()` / `close_all_connections()` close and drop it.
    """
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    try:
        environment = DuckDBConnectionManager.env()
    except Exception:  # no command opened a database
        return
    environment.close()
    DuckDBConnectionManager.close_all_connections()


def _serve(answer_fd: int, parent: int, project_dir: str) -> None:
    _die_with_parent(parent)
    os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")  # no tracking calls from a platform step
    answers = os.fdopen(answer_fd, "w")
    quiet = os.open(os.devnull, os.O_WRONLY)
    try:
        server: _Server | None = _Server(project_dir)
        broken = ""
    except Exception as error:  # answered to every request, so the step says why instead of "worker exited"
        server, broken = None, f"the dbt worker could not start: {type(error).__name__}: {error}"
    for line in sys.stdin:
        request = json.loads(line)
        sys.stdout.flush()
        sys.stderr.flush()
        log = os.open(request["log_file"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(log, 1)
        os.dup2(log, 2)
        try:
            if server is None:
                raise RuntimeError(broken)
            answer = server.handle(request)
        except Exception as error:  # an answer, never a dead worker: the step reports it
            answer = {"success": False, "error": f"{type(error).__name__}: {error}", "results": {}}
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(quiet, 1)
            os.dup2(quiet, 2)
            os.close(log)
        answers.write(json.dumps(answer) + "\n")
        answers.flush()


if __name__ == "__main__":
    _serve(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3])
