"""The code runner's supervisor on Linux, run as `python -I -S supervisor.py CONFIG_JSON` (standard library only).

It builds the sandbox (namespaces, a minimal read-only root), becomes its init, starts the snippet as an unprivileged
user, enforces the limits for the whole process tree and writes the true outcome to a file descriptor the snippet
never holds. It must never import edgemind: it runs before the sandbox exists, and then inside it.
Modes: "namespaces" (build everything here), "inner" (already inside bubblewrap), "plain" (no isolation available:
a child subreaper with the same tree limits), "probe" (say which namespaces this kernel lets us create).
"""

from __future__ import annotations

import ctypes
import json
import os
import platform
import signal
import sys
import time
from collections.abc import Callable
from typing import Any

CLONE_NEWNS, CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x02000000, 0x04000000, 0x08000000
CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000
SANDBOX_FLAGS = CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWPID | CLONE_NEWNET
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT, MS_BIND, MS_REC = 1, 2, 4, 8, 32, 4096, 16384
MS_PRIVATE, MNT_DETACH = 1 << 18, 2
PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_CAPBSET_DROP, PR_SET_CHILD_SUBREAPER, PR_SET_NO_NEW_PRIVS = 1, 4, 24, 36, 38
SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "riscv64": 41, "ppc64le": 203, "s390x": 217}
NOBODY = 65534
POLL_S = 0.02
DEVICES = ("null", "zero", "full", "random", "urandom")

if sys.platform == "win32":  # importable everywhere (the packaging test imports every module); runs on Linux only
    libc: Any = None
else:
    libc = ctypes.CDLL(None, use_errno=True)


def check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    check(libc.mount(source and source.encode(), target.encode(), fstype and fstype.encode(), ctypes.c_ulong(flags),
                     data and data.encode()), f"mount {target}")


def write(path: str, text: str) -> None:
    with open(path, "w") as f:
        f.write(text)


# --- building the sandbox (namespaces mode) ------------------------------------------------------------------------

def locked_flags(path: str) -> int:
    """Flags a bind mount inherits and may not drop inside a user namespace (the kernel refuses the remount)."""
    st = os.statvfs(path)
    return sum(flag for bit, flag in ((os.ST_NOSUID, MS_NOSUID), (os.ST_NODEV, MS_NODEV),
                                      (os.ST_NOEXEC, MS_NOEXEC)) if st.f_flag & bit)


def bind(root: str, source: str, writable: bool = False, device: bool = False) -> None:
    target = root + source
    if os.path.isdir(source):
        os.makedirs(target, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        open(target, "a").close()
    mount(source, target, None, MS_BIND | MS_REC)
    flags = MS_REMOUNT | MS_BIND | MS_NOSUID | locked_flags(source) | (0 if writable else MS_RDONLY)
    flags |= 0 if device else MS_NODEV
    mount(None, target, None, flags)


def build_root(config: dict[str, Any]) -> None:
    """A tmpfs root holding only read-only binds of what the interpreter needs, /dev basics, a private /tmp and
    the work folder."""
    root = config["root"]
    mount(None, "/", None, MS_REC | MS_PRIVATE)
    mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=16m")
    os.makedirs(root + "/tmp")
    mount("tmpfs", root + "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777,size=64m")
    for path in config["links"]:
        os.makedirs(os.path.dirname(root + path), exist_ok=True)
        os.symlink(os.readlink(path), root + path)
    for path in config["read_only"]:
        if os.path.exists(path):
            bind(root, path)
    os.makedirs(root + "/dev/shm")
    for name in DEVICES:
        bind(root, "/dev/" + name, writable=True, device=True)
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
                         ("stderr", "/proc/self/fd/2")):
        os.symlink(target, f"{root}/dev/{name}")
    mount("tmpfs", root + "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=1777,size=64m")
    os.makedirs(root + "/proc", exist_ok=True)
    bind(root, config["work"], writable=True)


def pivot(config: dict[str, Any]) -> None:
    """Mount this PID namespace's /proc while the host's is still visible (the kernel requires that), then make
    the tmpfs the root and detach the host's, so no path leads back out."""
    root = config["root"]
    mount("proc", root + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    os.chdir(root)
    number = SYS_PIVOT_ROOT.get(platform.machine())
    if number is not None and libc.syscall(number, b".", b".") == 0:
        check(libc.umount2(b".", MNT_DETACH), "detach the host's root")
    else:  # an architecture we have no number for: chroot, safe because the snippet keeps no capabilities
        os.chroot(".")
    os.chdir("/")
    mount(None, "/", None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)
    os.chdir(config["work"])


def enter_namespaces(config: dict[str, Any]) -> str:
    """Fork a child into new namespaces; the parent (still outside) writes its id maps, because only a writer in
    the parent namespace may map the unprivileged user the snippet runs as. Returns in the child only."""
    ready_r, ready_w = os.pipe()
    go_r, go_w = os.pipe()
    child = os.fork()
    if child == 0:
        os.close(ready_r)
        os.close(go_w)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        kind = "user"
        if libc.unshare(CLONE_NEWUSER | SANDBOX_FLAGS) != 0:
            kind = "none"
            if libc.unshare(SANDBOX_FLAGS) != 0:
                os.write(ready_w, b"!" + os.strerror(ctypes.get_errno()).encode())
                os._exit(125)
        os.write(ready_w, kind[0].encode())
        os.read(go_r, 1)
        return kind
    os.close(ready_w)
    os.close(go_r)
    answer = os.read(ready_r, 200)
    if answer == b"u":
        uid, gid = os.geteuid(), os.getegid()
        if uid != 0:  # an unprivileged writer may map only itself, and only with setgroups() denied
            write(f"/proc/{child}/setgroups", "deny")
        extra = f"\n{NOBODY} {NOBODY} 1" if uid == 0 else ""
        write(f"/proc/{child}/uid_map", f"0 {uid} 1{extra}")
        write(f"/proc/{child}/gid_map", f"0 {gid} 1{extra}")
    os.write(go_w, b"g")
    _, status = os.waitpid(child, 0)
    if answer.startswith(b"!"):
        report(config, {"error": "cannot create namespaces: " + answer[1:].decode(errors="replace")})
    os._exit(os.waitstatus_to_exitcode(status) & 0xFF)


# --- the snippet's process ----------------------------------------------------------------------------------------

def drop_privileges(to_nobody: bool) -> None:
    """The snippet keeps no capability. As root it becomes nobody; inside a user namespace of an unprivileged user it
    stays that namespace's root with an empty bounding set, so even exec() of a set-uid file gains nothing."""
    for cap in range(64):
        libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)
    if to_nobody:
        os.setgroups([])
        os.setresgid(NOBODY, NOBODY, NOBODY)
        os.setresuid(NOBODY, NOBODY, NOBODY)
    header = (ctypes.c_uint32 * 2)(0x20080522, 0)
    data = (ctypes.c_uint32 * 6)()
    libc.capset(header, data)
    check(libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")


def apply_limits(limits: dict[str, Any]) -> None:
    import resource  # POSIX only: imported where it runs, so the module still imports on Windows

    cpu = int(limits["cpu_s"])
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    memory = int(limits["memory_mb"]) * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    size = int(limits["file_mb"]) * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    procs = int(limits["max_processes"])
    resource.setrlimit(resource.RLIMIT_NPROC, (procs, procs))


def start_snippet(config: dict[str, Any], drop: Callable[[], None]) -> int:
    # not dumpable: a snippet running as our user cannot open /proc/<us>/fd (the outcome) or ptrace us; its own
    # exec() makes it dumpable again
    libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
    pid = os.fork()
    if pid == 0:
        try:
            os.setsid()
            os.nice(5)  # the watchdog (at our priority) must win the CPU from the tree it watches
            drop()
            apply_limits(config["limits"])
            os.closerange(3, 65536)
            os.execve(config["argv"][0], config["argv"], dict(os.environ))
        except BaseException as exc:  # anything here must end this child, never go back into the supervisor
            os.write(2, f"sandbox: cannot start the snippet: {exc}\n".encode())
        os._exit(126)
    return pid


# --- the watchdog: limits for the whole tree ------------------------------------------------------------------------

def proc_numbers(pid: int) -> tuple[int, float]:
    """(bytes of memory the process holds, CPU seconds it and its reaped children used)."""
    with open(f"/proc/{pid}/stat", "rb") as f:
        fields = f.read().rsplit(b")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = sum(int(fields[i]) for i in (11, 12, 13, 14)) / ticks
    memory = 0
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as f:
            for line in f:
                if line.startswith(b"Pss:"):
                    memory = int(line.split()[1]) * 1024
                    break
    except OSError:
        memory = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
    return memory, cpu


def watch(config: dict[str, Any], main: int, members: Callable[[], list[int]], kill_all: Callable[[], None]) -> None:
    """Reap everything, sum memory and CPU over the tree, stop it at a limit; report how the main process ended."""
    limits = config["limits"]
    memory_limit = int(limits["memory_mb"]) * 1024 * 1024
    cpu_limit = float(limits["cpu_s"])
    reason = None
    status = None
    usage = None
    while status is None:
        while True:
            try:
                pid, st, ru = os.wait4(-1, os.WNOHANG)
            except ChildProcessError:
                pid = 0
            if pid == 0:
                break
            if pid == main:
                status, usage = st, ru
        # Counted even when the main process has just ended: a fork bomb that exits at once leaves its children
        # running, and the tree it left is what the limits are for.
        memory, cpu = 0, 0.0
        children = os.times()
        cpu += children.children_user + children.children_system
        pids = members()
        for pid in pids:
            try:
                m, c = proc_numbers(pid)
            except (OSError, IndexError, ValueError):
                continue
            memory += m
            cpu += c
        if memory > memory_limit:
            reason = "memory"
        elif len(pids) > int(limits["max_processes"]):  # root is exempt from RLIMIT_NPROC: count them too
            reason = "processes"
        elif cpu > cpu_limit + 0.5:
            reason = "cpu"
        if reason or status is not None:
            break
        time.sleep(POLL_S)
    kill_all()
    if reason:
        report(config, {"killed": reason})
    elif status is not None and os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        used = usage.ru_utime + usage.ru_stime if usage else 0.0
        at_cpu = sig == signal.SIGXCPU or (sig == signal.SIGKILL and used >= cpu_limit)
        report(config, {"killed": "cpu"} if at_cpu else {"signal": sig})
    elif status is not None:
        report(config, {"exit": os.WEXITSTATUS(status)})


def report(config: dict[str, Any], outcome: dict[str, Any]) -> None:
    fd = int(config["outcome_fd"])
    try:
        os.write(fd, json.dumps(outcome).encode())
    except OSError:
        pass


def namespace_members() -> list[int]:
    return [int(p) for p in os.listdir("/proc") if p.isdigit() and int(p) != os.getpid() and p != "1"]


def kill_namespace() -> None:
    try:
        os.kill(-1, signal.SIGKILL)  # from the namespace's init: every process in it but ourselves
    except ProcessLookupError:
        pass


def descendants() -> list[int]:
    found: list[int] = []
    queue = [os.getpid()]
    while queue:
        pid = queue.pop()
        try:
            tasks = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for task in tasks:
            try:
                with open(f"/proc/{pid}/task/{task}/children") as f:
                    kids = [int(p) for p in f.read().split()]
            except OSError:
                continue
            found += kids
            queue += kids
    return found


def kill_descendants() -> None:
    for _ in range(50):
        pids = descendants()
        if not pids:
            return
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.01)
        while True:
            try:
                if os.waitpid(-1, os.WNOHANG)[0] == 0:
                    break
            except ChildProcessError:
                break


# --- modes -------------------------------------------------------------------------------------------------------

def no_nested_user_namespaces() -> None:
    """A user namespace inside ours would hand the snippet a full set of capabilities there (and the kernel's
    less-travelled code paths): allow none, where this kernel counts them per namespace."""
    try:
        write("/proc/sys/user/max_user_namespaces", "0")
    except OSError:
        pass


def run_namespaces(config: dict[str, Any]) -> None:
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    uid = os.geteuid()
    kind = enter_namespaces(config)
    to_nobody = uid == 0  # root maps nobody into its user namespace (or has no user namespace): use it
    try:
        if to_nobody:
            os.chown(config["work"], NOBODY, NOBODY)
        build_root(config)
    except OSError as exc:
        report(config, {"error": f"cannot build the sandbox's root: {exc}"})
        os._exit(125)
    init = os.fork()  # the first child in the new PID namespace: its init; when it ends, the kernel kills the rest
    if init:
        _, status = os.waitpid(init, 0)
        os._exit(os.waitstatus_to_exitcode(status) & 0xFF)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    try:
        pivot(config)
    except OSError as exc:
        report(config, {"error": f"cannot enter the sandbox's root: {exc}"})
        os._exit(125)
    libc.sethostname(b"sandbox", 7)
    if kind == "user":  # only in a user namespace of our own: in the host's, this sysctl is the whole machine's
        no_nested_user_namespaces()
    main = start_snippet(config, lambda: drop_privileges(to_nobody))
    watch(config, main, namespace_members, kill_namespace)
    os._exit(0)


def run_inner(config: dict[str, Any]) -> None:
    """Inside bubblewrap (which made the namespaces, the root and dropped capabilities): limits and the outcome."""
    main = start_snippet(config, lambda: None)

    def members() -> list[int]:
        return [p for p in namespace_members() if p != os.getpid()]

    def kill_all() -> None:
        for pid in members():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    watch(config, main, members, kill_all)
    os._exit(0)


def run_plain(config: dict[str, Any]) -> None:
    """No namespaces: a child subreaper inherits whatever the snippet leaves behind and kills it at the end."""
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)

    def stop(*_: object) -> None:
        kill_descendants()
        os._exit(143)

    signal.signal(signal.SIGTERM, stop)
    # no uid switch here: without a mount namespace, nobody may not even reach the interpreter (under /root)
    main = start_snippet(config, lambda: drop_privileges(False))
    watch(config, main, descendants, kill_descendants)
    os._exit(0)


def probe() -> None:
    """Print which namespaces a child of ours may create: "user" (all, in a user namespace), "root" (all, without a
    user namespace, because we are root) or "none"."""
    found = "none"
    for kind, flags in (("user", CLONE_NEWUSER | SANDBOX_FLAGS), ("root", SANDBOX_FLAGS)):
        child = os.fork()
        if child == 0:
            os._exit(0 if libc.unshare(flags) == 0 else 1)
        _, status = os.waitpid(child, 0)
        if os.waitstatus_to_exitcode(status) == 0:
            found = kind
            break
    sys.stdout.write(found)


def main() -> None:
    config = json.loads(sys.argv[1])
    mode = config["mode"]
    try:
        if mode == "probe":
            probe()
        elif mode == "namespaces":
            run_namespaces(config)
        elif mode == "inner":
            run_inner(config)
        else:
            run_plain(config)
    except Exception as exc:  # one line for the runner's error, never a traceback in the snippet's stderr
        report(config, {"error": f"the sandbox's supervisor failed: {type(exc).__name__}: {exc}"})
        os._exit(125)


if __name__ == "__main__":
    main()
