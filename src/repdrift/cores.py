"""How many threads XLA's CPU backend may run a computation on.

The networks of the paper are small: one training step is a few small matrix products
and a few thousand random numbers. XLA's CPU backend splits such work across a pool of
threads as large as the number of cores the process may run on, and on the 2-core
machines we measure on the hand-offs between threads cost more than they save: one
Fig. 2 step takes ~470 µs with a 2-thread pool and ~330 µs with one thread
(``benchmarks/engine.py --cores``). So the ``repdrift`` command runs a simulation with one
thread by default (``--cores``), which also leaves the other cores to other runs.

XLA has no option for the size of that pool (``--xla_cpu_multi_thread_eigen=false`` only
makes matrix products single-threaded: with it, two threads still share a Fig. 2-sized
training loop about equally, as without it) and sizes it from the cores the process may
run on when its CPU backend starts.
:func:`use_cores` therefore restricts the process to ``n`` cores, starts the backend, and
gives every thread back all its cores: XLA keeps a pool of ``n`` threads, and the
operating system puts each process on whichever core is free. Pinning instead (as
repdrift did before) put every run on the first core: two runs started together shared
core 0 while core 1 idled.

Measured with jax 0.10.2 on a 2-core machine: ``repdrift simulate --preset fig2-quick
--steps 30000``, steps/s as the progress bar computes them (records included, compilation
excluded), median of three rounds; two runs "at once" started together, each in its own
session as from two terminals (the machine was shared with other work, whose share the
measured runs were raised above while they ran):

=============================================  =======  ====================  ===========
                                                alone    two at once (each)    CPU µs/step
=============================================  =======  ====================  ===========
pinned to the first core (before)                3,581    1,713                 ~270
one-thread pool, free on either core (now)       3,629    3,412                 ~270
no restriction (XLA's 2-thread pool)             1,748    1,838                 ~500–850
=============================================  =======  ====================  ===========

Pinned, two runs shared core 0 at half speed while core 1 idled; with a one-thread pool
each ran on its own core at nearly the speed of one alone. The default pool keeps two
threads busy handing work to each other and spends about twice the CPU time per step.

:func:`use_cores` must run before the first JAX computation, which starts the backend.

It also limits the BLAS libraries (OpenBLAS of NumPy and SciPy, which the exact Hessian
spectra use) to ``n`` threads, through ``threadpoolctl``: by default OpenBLAS starts one
spinning thread per core in every process, and in a sweep's worker processes an exact
spectrum of a Table-2 member then cost 15–29 s of CPU against 2.8 s on one thread
(``benchmarks/sweep.py``).
"""

from __future__ import annotations

import contextlib
import functools
import os
import platform
from pathlib import Path
from typing import Any

#: Threads of this process's XLA CPU pool, where :func:`use_cores` sized it.
_POOL: int | None = None


def use_cores(n: int | None) -> int | None:
    """Let XLA's CPU backend run computations on ``n`` threads (``None``: leave as is).

    Call before the first JAX computation: it starts the CPU backend with a pool of
    ``min(n, cores allowed)`` threads; afterwards the process may again run on every core
    it was allowed, so concurrent runs spread over the free cores.

    Returns the number of threads of the pool, or ``None`` where nothing changed: no
    affinity control on this platform, or the backend had already started (then its pool
    keeps the size it has). Results can differ in the last bits between thread counts
    (XLA may split reductions differently); a run and its resumption should use the same
    count, as the command line does by default.

    Raises:
        ValueError: ``n`` is smaller than 1.
    """
    if n is None:
        return None
    if n < 1:
        raise ValueError(f"cores must be at least 1, got {n}")
    _limit_blas(n)
    if not hasattr(os, "sched_setaffinity") or _backend_started():
        return None
    global _POOL
    allowed = os.sched_getaffinity(0)
    count = min(n, len(allowed))
    if count < len(allowed):
        os.sched_setaffinity(0, set(sorted(allowed)[:count]))
        try:
            import jax

            jax.devices()  # starts the backends (CPU included): its pool gets `count` threads
        finally:
            _allow_all_threads(allowed)
    _POOL = count
    return count


def cpu_threads() -> int:
    """Threads of this process's XLA CPU pool: as :func:`use_cores` sized it, or else
    XLA's own default, the cores the process may run on."""
    if _POOL is not None:
        return _POOL
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def computed_on() -> dict[str, Any]:
    """What this process computes on, as far as a run's last bits depend on it.

    XLA compiles for the processor it runs on and may split a reduction differently with
    another number of threads, so the same configuration and seed give the same records
    bit for bit only on the same device and processor, with the same CPU thread count
    and the same JAX (README, "Performance"). Each stored generation of a run records
    this (``generation.json``), so ``repdrift resume`` continues on the run's own thread
    count and says when anything else differs. Call once JAX's backend may start.
    """
    return {**_device(), "cpu_threads": cpu_threads()}


@functools.cache
def _device() -> dict[str, str]:
    import jax

    from repdrift import __version__

    device = jax.devices()[0]
    return {
        "platform": device.platform,
        "device": "" if device.platform == "cpu" else str(device.device_kind),
        "processor": processor(),
        "jax": jax.__version__,
        "repdrift": __version__,
    }


def processor() -> str:
    """The CPU as XLA compiles for it: its model name, family and model, and its widest
    vector instructions (Linux: ``/proc/cpuinfo``), e.g. ``AMD EPYC (family 25, model 1;
    AVX2)``; elsewhere what ``platform`` says of it."""
    info: dict[str, str] = {}
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if not key.strip():
                break  # the first processor's block is enough
            info.setdefault(key.strip(), value.strip())
    name = info.get("model name") or platform.processor() or platform.machine() or "unknown"
    flags = set(info.get("flags", "").split())
    widest = next((f for f in ("avx512f", "avx2", "avx", "sse4_2") if f in flags), None)
    details = []
    if info.get("cpu family") and info.get("model"):
        details.append(f"family {info['cpu family']}, model {info['model']}")
    if widest:
        details.append(widest.upper().replace("_", "."))
    return f"{name} ({'; '.join(details)})" if details else name


def describe_computed_on(recorded: dict[str, Any]) -> str:
    """:func:`computed_on`'s record in one line: ``AMD EPYC (family 25, model 1; AVX2), 1
    CPU thread, JAX 0.10.2, repdrift 0.1.0``, or ``gpu NVIDIA H200, host AMD EPYC (...),
    JAX ...``."""
    get = recorded.get
    if get("platform") == "cpu":
        threads = get("cpu_threads", "?")
        where = f"{get('processor', '?')}, {threads} CPU thread{'' if threads == 1 else 's'}"
    else:
        where = f"{get('platform', '?')} {get('device', '?')}, host {get('processor', '?')}"
    return f"{where}, JAX {get('jax', '?')}, repdrift {get('repdrift', '?')}"


class ComputedElsewhereWarning(RuntimeWarning):
    """A run, or a sweep's runs, continued where their last bits may come out otherwise
    (:func:`computed_elsewhere`; :func:`repdrift.resume`, :func:`repdrift.sweep.run`)."""


#: The fields of :func:`computed_on` compared on resuming, and how a note names them.
COMPUTED_ON_FIELDS = {
    "platform": "device type",
    "device": "device",
    "processor": "processor",
    "cpu_threads": "CPU threads",
    "jax": "JAX",
}


def computed_elsewhere(recorded: dict[str, Any], here: dict[str, Any]) -> list[str]:
    """What differs between where a run was computed (``recorded``, from its store) and
    ``here``, as ``"JAX 0.10.2 → 0.11.0"``: the fields a run's last bits depend on. CPU
    threads count only where both computed on a CPU."""
    differs = []
    for key, name in COMPUTED_ON_FIELDS.items():
        if key not in recorded or key not in here:
            continue
        if key == "cpu_threads" and not recorded.get("platform") == here.get("platform") == "cpu":
            continue  # a GPU computes the same whatever the host's threads
        if key == "device" and recorded.get("platform") != here.get("platform"):
            continue  # the device type says it
        if recorded[key] != here[key]:
            differs.append(f"{name} {recorded[key]} → {here[key]}")
    return differs


#: Environment variables with which the user has chosen how JAX takes a GPU's memory.
_GPU_MEMORY_SETTINGS = (
    "XLA_PYTHON_CLIENT_PREALLOCATE",
    "XLA_PYTHON_CLIENT_MEM_FRACTION",
    "XLA_CLIENT_MEM_FRACTION",
    "XLA_PYTHON_CLIENT_ALLOCATOR",
)


def physical_memory() -> int | None:
    """Bytes of this machine's memory (``None`` where the system does not say)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def share_accelerator() -> bool:
    """Let this process share a GPU with other processes (a sweep's local workers).

    On a GPU, JAX takes 75 % of the device's memory when its backend starts: a second
    worker process on the same GPU then fails for want of memory. Unless the user chose how
    JAX takes the memory (``XLA_PYTHON_CLIENT_PREALLOCATE``, ``XLA_CLIENT_MEM_FRACTION``,
    ...), this sets ``XLA_PYTHON_CLIENT_PREALLOCATE=false``: each process then takes what it
    uses. Call before the backend starts. Nothing changes on a CPU. Returns whether it set
    the variable.
    """
    if any(name in os.environ for name in _GPU_MEMORY_SETTINGS):
        return False
    os.environ["XLA_PYTHON_CLIENT_PREALLOCATE"] = "false"
    return True


def _backend_started() -> bool:
    """Whether JAX has started its backends (then their thread pools are sized)."""
    import jax._src.xla_bridge as xla_bridge

    started = getattr(xla_bridge, "backends_are_initialized", None)
    return bool(started()) if started is not None else bool(getattr(xla_bridge, "_backends", {}))


def _allow_all_threads(cores: set[int]) -> None:
    """Let every thread of this process run on ``cores`` (threads inherit affinity at birth)."""
    try:
        threads = [int(t) for t in os.listdir("/proc/self/task")]
    except OSError:  # no /proc: at least this thread
        threads = [0]
    for tid in threads:
        with contextlib.suppress(OSError):  # a thread may end meanwhile
            os.sched_setaffinity(tid, cores)


def _limit_blas(n: int) -> None:
    """Limit the BLAS thread pools of NumPy and SciPy to ``n`` threads (both loaded first:
    ``threadpoolctl`` acts on the libraries loaded when it is called)."""
    import numpy  # noqa: F401
    import scipy.linalg  # noqa: F401
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=n, user_api="blas")


def release_compiled() -> None:
    """Give back the memory of everything JAX compiled so far (for long-lived workers).

    JAX keeps every program it compiles — jitted functions and the eager operations of
    each new array shape — for the life of the process, about 3 MB each. A sweep worker
    meets a new task shape with nearly every run: setting up a batch of 31 runs compiles
    ~150 programs (drawing the tasks and the initial weights, padding, the snapshot
    metrics), and a worker grew by 60–90 MB a batch, to 1.5 GB after 8 batches of
    ``table2-quick``. This drops JAX's caches and hands the freed heap back to the
    operating system (glibc's ``malloc_trim``), back to ~0.45 GB; later calls compile
    again, to the same programs: the records of a batch run after a release are equal,
    bit for bit, to those of a batch run in a fresh process (tested).
    """
    import gc

    import jax

    jax.clear_caches()
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)  # glibc only; elsewhere nothing to do


_OWN_CACHE: str | None = None


def cache_compiled() -> str | None:
    """Keep what this process compiles in a cache on disk, for after
    :func:`release_compiled` (a sweep worker).

    A worker gives its compiled programs back after every batch, and the next batch of
    the same learning rule compiles the same training loop, padding and metrics again:
    loaded from JAX's persistent compilation cache instead, a ``table2-quick`` sample ran
    in 48 s of CPU instead of 59 s, with equal records, bit for bit (72 of 72 runs). The
    cache is this process's own temporary directory, removed at exit, or by the next
    worker after a ``kill -9`` (JAX writes entries without locking or renaming: shared
    between processes, a killed writer could leave a truncated entry for the others). A
    cache directory the user chose (``JAX_COMPILATION_CACHE_DIR``) is kept. Returns the
    directory in use.
    """
    import atexit
    import shutil
    import tempfile

    import jax

    global _OWN_CACHE
    if jax.config.jax_compilation_cache_dir:
        return jax.config.jax_compilation_cache_dir
    if _OWN_CACHE is None:
        # One directory for the life of the process: JAX opens its cache once, at the
        # first compilation after the directory is set, and keeps writing there.
        _remove_orphan_caches(Path(tempfile.gettempdir()))
        _OWN_CACHE = tempfile.mkdtemp(prefix=f"{_CACHE_PREFIX}{os.getpid()}-")
        atexit.register(shutil.rmtree, _OWN_CACHE, ignore_errors=True)
    jax.config.update("jax_compilation_cache_dir", _OWN_CACHE)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    return _OWN_CACHE


_CACHE_SETTINGS = (
    "jax_compilation_cache_dir",
    "jax_persistent_cache_min_compile_time_secs",
    "jax_persistent_cache_min_entry_size_bytes",
)


@contextlib.contextmanager
def caching_compiled():
    """:func:`cache_compiled` for the duration of a block (a sweep run in the calling
    process, ``--workers 1``): afterwards JAX's cache settings are as they were, so a
    Python session that ran a sweep does not go on writing its compilations to disk."""
    import jax

    before = {name: getattr(jax.config, name) for name in _CACHE_SETTINGS}
    try:
        yield cache_compiled()
    finally:
        for name, value in before.items():
            jax.config.update(name, value)


_CACHE_PREFIX = "repdrift-jax-cache-"


def _remove_orphan_caches(root: Path) -> None:
    """Remove the caches of :func:`cache_compiled` whose process is gone (killed)."""
    import shutil

    for path in root.glob(f"{_CACHE_PREFIX}*"):
        try:
            pid = int(path.name[len(_CACHE_PREFIX) :].split("-")[0])
            os.kill(pid, 0)
        except ProcessLookupError:
            shutil.rmtree(path, ignore_errors=True)
        except (ValueError, OSError):
            continue  # not ours, or a live process of another user
