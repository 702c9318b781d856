"""`edgemind doctor`: what this machine has, what EdgeMind can run on it, and whether its data is healthy."""

from __future__ import annotations

import os
import platform
import shutil
import sqlite3
import sys
from importlib import metadata
from typing import Any

from edgemind.kernels.tmac import status as tmac_status
from edgemind.kernels.tmac import status_line as tmac_line

from ..backends.llama_native import NativeGuard, model_key
from ..backends.ollama_backend import list_ollama_models
from ..data_folder import describe_privacy
from ..engine import Models, Tools
from ..errors import EdgeMindError
from ..hardware import hardware_profile
from ..mcp.service import McpConfigError, McpServers
from ..settings import Settings
from ..tools.confined import level as file_confinement


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _providers() -> dict[str, Any]:
    try:
        import onnxruntime
    except ImportError:
        return {"onnxruntime": None, "providers": [], "note": "onnxruntime is not installed"}
    providers = onnxruntime.get_available_providers()
    out: dict[str, Any] = {"onnxruntime": onnxruntime.__version__, "providers": providers}
    if sys.platform == "win32" and "DmlExecutionProvider" not in providers:
        # chromadb asks for plain onnxruntime; installed beside onnxruntime-directml it can shadow it
        out["error"] = ("DirectML is missing: plain onnxruntime shadows onnxruntime-directml; reinstall EdgeMind "
                        "(pip uninstall onnxruntime, then pip install --force-reinstall onnxruntime-directml)")
    return out


def _onnx_int4(settings: Settings) -> dict[str, Any]:
    """Which provider onnx_int4 would run on, and its cache of built models (safe to delete; rebuilt on use)."""
    from ..backends.onnx_model_cache import cache_dir  # lazy: loads onnx (~0.8 s), for `doctor` only

    folder = cache_dir(settings.home)
    try:
        from ..backends.onnx_int4_backend import choose_provider  # lazy: onnx, and ImportError is a finding here

        provider: str | None = choose_provider(settings.onnx_provider)
        problem = None
    except EdgeMindError as exc:
        provider, problem = None, str(exc)
    except ImportError as exc:
        provider, problem = None, f"onnxruntime is not installed ({exc})"
    built = sorted(p for p in folder.glob("*/model.onnx")) if folder.exists() else []
    size = sum(f.stat().st_size for p in built for f in p.parent.iterdir() if f.is_file())
    out: dict[str, Any] = {"provider": provider, "setting": settings.onnx_provider, "weights": settings.onnx_weights,
                           "local_backend": settings.local_backend, "cache_folder": str(folder),
                           "cached_models": len(built), "cache_bytes": size}
    if problem:
        out["error"] = problem
    return out


def _llama_cpp(settings: Settings) -> dict[str, Any]:
    """The build, the CPU variants it offers this CPU, and the test run of the default model (run now if it is
    installed and was never checked on this machine)."""
    guard = NativeGuard(settings.artifacts_dir / "native", threads=settings.effective_threads)
    try:
        spec = Models.open(settings).get(settings.default_model)
        if spec.backend == "llama_cpp" and spec.path is not None and spec.path.exists():
            guard.check(spec.path, model_key(spec.sha256, spec.path))
    except EdgeMindError:
        pass  # the models section reports what is wrong with the registry
    try:
        native = guard.report()
        version = _version("llama-cpp-python")
        if version is None:
            return {"version": None, "error": "llama-cpp-python is not installed"}
        return {"version": version, **native}
    except Exception as exc:  # doctor reports every failure instead of stopping at the first
        return {"version": None, "error": f"{exc.__class__.__name__}: {exc}"}


def _llama_lines(llama: dict[str, Any]) -> list[str]:
    if llama.get("version") is None or "error" in llama:
        return [f"  llama.cpp  {llama.get('error')}"]
    names = ", ".join(f"{v['name']}" for v in llama["variants"])
    lines = [f"  llama.cpp  {llama['version']}, {llama['dispatch']} ({names or 'no variant runs on this CPU'})"]
    for key, check in llama.get("checks", {}).items():
        what = check.get("model") or key
        failed = [f"{a['variant']} failed ({a['reason']})" for a in check.get("attempts", []) if not a.get("ok")]
        state = f"runs on {check['variant']}" if check.get("variant") else "RUNS ON NO VARIANT: onnx_int4 is used"
        lines.append(f"             test run {what}: {state}" + (f"; {'; '.join(failed)}" if failed else ""))
    return lines


def _database(settings: Settings) -> dict[str, Any]:
    path = settings.db_path
    if not path.exists():
        return {"path": str(path), "exists": False, "ok": True}
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            result = con.execute("PRAGMA quick_check").fetchone()[0]
        finally:
            con.close()
    except sqlite3.DatabaseError as exc:
        return {"path": str(path), "exists": True, "ok": False, "error": str(exc)}
    return {"path": str(path), "exists": True, "ok": result == "ok", "check": result}


def _models(settings: Settings) -> list[dict[str, Any]]:
    try:
        models = Models.open(settings)
    except EdgeMindError as exc:
        return [{"error": str(exc)}]
    rows = []
    for spec in models.list():
        row: dict[str, Any] = {"id": spec.id, "backend": spec.backend, "bundled": spec.bundled}
        if spec.backend in ("llama_cpp", "onnx_int4", "tmac") and spec.path is not None:
            row["installed"] = spec.path.exists()
            row["size_ok"] = spec.path.exists() and (spec.size_bytes is None
                                                     or spec.path.stat().st_size == spec.size_bytes)
        else:
            row["endpoint"] = spec.endpoint
        rows.append(row)
    return rows


def _ollama(settings: Settings) -> dict[str, Any]:
    try:
        models = list_ollama_models(settings.ollama_host, 0.5)
        return {"host": settings.ollama_host, "reachable": True, "models": models}
    except Exception as exc:  # unreachable Ollama is normal on most laptops
        return {"host": settings.ollama_host, "reachable": False, "reason": exc.__class__.__name__}


def _code_runner(settings: Settings) -> dict[str, Any]:
    """The isolation level python_run gets here, from the tool's own dry run (which runs nothing): the plugin layer
    owns the sandbox, so doctor asks the tool instead of importing it."""
    try:
        tools = Tools.open(settings, mcp_refresh="none")  # doctor never starts an MCP server
        try:
            tool = next((t for t in tools.list() if t.name == "python_run"), None)
        finally:
            tools.close()
        if tool is None:
            return {"installed": False, "isolation": None}
        preview = str(tool.function(code="", dry_run=True))
    except (EdgeMindError, OSError) as exc:
        return {"installed": True, "isolation": None, "error": str(exc)}
    _, _, isolation = preview.partition("isolation: ")
    return {"installed": True, "isolation": isolation or None, "weaker": "WEAKER ISOLATION" in isolation}


def _mcp(settings: Settings) -> dict[str, Any]:
    """The configured MCP servers, one row each, checked without starting any (core/mcp/health.py)."""
    try:
        return {"servers": [h.as_dict() | {"line": h.line()} for h in McpServers.of(settings).health()]}
    except McpConfigError as exc:
        return {"servers": [], "error": str(exc)}


def run_doctor(settings: Settings) -> dict[str, Any]:
    home = settings.home
    writable = home.exists() and os.access(home, os.W_OK)
    disk = shutil.disk_usage(home if home.exists() else home.parent if home.parent.exists() else "/")
    database = _database(settings)
    models = _models(settings) if database["ok"] else []
    llama = _llama_cpp(settings)
    providers = _providers()
    files = file_confinement()
    ok = (database["ok"] and llama.get("version") is not None and all("error" not in m for m in models)
          and "error" not in providers)
    return {
        "ok": ok,
        "edgemind": _version("edgemind"),
        "python": platform.python_version(),
        "hardware": hardware_profile().as_dict(),
        "threads": settings.effective_threads,
        "llama_cpp": llama,
        "execution_providers": providers,
        "onnx_int4": _onnx_int4(settings),
        "tmac_kernels": tmac_status(),
        "data_folder": {"path": str(home), "exists": home.exists(), "writable": writable,
                        "free_bytes": disk.free, "database": database, "privacy": describe_privacy(home)},
        "models": models,
        "ollama": _ollama(settings),
        "file_tools": {"confinement": files.name, "detail": files.detail},
        "code_runner": _code_runner(settings),
        "mcp": _mcp(settings),
    }


def _onnx_line(o: dict[str, Any]) -> str:
    where = o["provider"] or f"UNAVAILABLE: {o.get('error')}"
    return (f"{where} (onnx_provider = {o['setting']}, {o['weights']} weights); local models run on "
            f"{o['local_backend']}; {o['cached_models']} built model(s), {o['cache_bytes'] / 2**20:.0f} MiB in "
            f"{o['cache_folder']}")


def _code_runner_line(c: dict[str, Any]) -> str:
    if not c["installed"]:
        return "python_run not installed"
    return f"isolation {c['isolation']}" if c["isolation"] else f"UNKNOWN isolation: {c.get('error', '?')}"


def _mcp_lines(m: dict[str, Any]) -> list[str]:
    if "error" in m:
        return [f"  mcp        {m['error']}"]
    if not m["servers"]:
        return ["  mcp        no servers configured (edgemind mcp add)"]
    return [f"  mcp        {s['line']}" for s in m["servers"]]


def format_report(r: dict[str, Any]) -> str:
    hw = r["hardware"]
    ep = r["execution_providers"]
    df = r["data_folder"]
    db = df["database"]
    database = "ok" if db["ok"] else "DAMAGED: " + db.get("error", db.get("check", ""))
    ollama = "reachable at " + r["ollama"]["host"] if r["ollama"]["reachable"] else "not running (optional)"
    lines = [
        f"EdgeMind {r['edgemind']} on Python {r['python']}: {'healthy' if r['ok'] else 'PROBLEMS FOUND'}",
        f"  CPU        {hw['cpu']} ({hw['physical_cores']} physical / {hw['logical_cores']} logical cores); "
        f"using {r['threads']} threads",
        f"  memory     {hw['memory_available_bytes'] / 2**30:.1f} GiB free of "
        f"{hw['memory_total_bytes'] / 2**30:.1f} GiB",
        f"  features   {' '.join(hw['cpu_features']) or 'unknown'}",
        f"  OS         {hw['os']}",
        *_llama_lines(r["llama_cpp"]),
        f"  providers  {ep.get('error') or ', '.join(ep['providers']) or ep.get('note', 'none')}",
        f"  onnx_int4  {_onnx_line(r['onnx_int4'])}",
        f"  tmac       {tmac_line(r['tmac_kernels'])}",
        f"  data       {df['path']} ({'writable' if df['writable'] else 'not writable yet'}, "
        f"{df['free_bytes'] / 2**30:.1f} GiB free disk)",
        f"  privacy    {df['privacy']}",
        f"  database   {database}",
        f"  ollama     {ollama}",
        f"  file tools {r['file_tools']['confinement']}: {r['file_tools']['detail']}",
        f"  code runs  {_code_runner_line(r['code_runner'])}",
        *_mcp_lines(r["mcp"]),
        "  models",
    ]
    for m in r["models"]:
        if "error" in m:
            lines.append(f"    error: {m['error']}")
        elif m["backend"] in ("llama_cpp", "onnx_int4", "tmac"):
            state = "installed" if m["installed"] else "installed on first use"
            if m["installed"] and not m["size_ok"]:
                state = "WRONG SIZE (run `edgemind models verify`)"
            lines.append(f"    {m['id']:<34} {state}")
        else:
            lines.append(f"    {m['id']:<34} {m['backend']} at {m['endpoint']}")
    return "\n".join(lines)
