"""Training in several processes: torchrun's environment, the process group, what the ranks share.

`torchrun --nproc-per-node N -m rainloop train ...` (or any launcher that sets
RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT) starts N copies of
`rainloop train`. Each trains on its share of the global batch (--batch / N)
through DistributedDataParallel: NCCL on GPUs, gloo on CPUs. Rank 0 alone reads
and writes the run folder: it resolves the config and the starting state and
sends them to the others, so no other rank needs the folder.

A RainloopError that one rank meets while the ranks get ready is raised on
every rank, so none waits for a peer that has quit; rank 0 reports it for the
job and the others raise `Reported`, which the CLI turns into a quiet exit 2.
"""

from __future__ import annotations

import contextlib
import gc
import os
import sys
import tempfile
from dataclasses import dataclass
from datetime import timedelta

import torch
from torch import distributed as dist

from rainloop.errors import RainloopError


class Reported(RainloopError):
    """An error rank 0 reports for the whole job, raised on the other ranks."""


@dataclass(frozen=True)
class World:
    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0

    def error(self, message: str) -> RainloopError:
        """An error every rank meets alike: rank 0 says it, the others exit quietly."""
        return RainloopError(message) if self.main else Reported(message)


def discover(env=os.environ) -> World:
    """This process's place in the job, from the variables torchrun sets (one process without them)."""
    if "WORLD_SIZE" not in env:
        return World()
    values = {}
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        try:
            values[name] = int(env.get(name, "0"))
        except ValueError:
            raise RainloopError(f"{name}={env[name]!r}: torchrun's environment should hold a whole number there") from None
    world = World(values["RANK"], values["WORLD_SIZE"], values["LOCAL_RANK"])
    if not 0 <= world.rank < world.size:
        raise RainloopError(f"RANK={world.rank} WORLD_SIZE={world.size}: the rank must lie in 0..WORLD_SIZE-1")
    return world


def device_of(world: World, device: str) -> str:
    """The device of this rank: the GPU of its LOCAL_RANK when training on GPUs."""
    if world.size == 1 or device == "cpu":
        return device
    local = f"cuda:{world.local_rank}"
    if device not in ("cuda", local):
        raise RainloopError(f"--device {device}: with several processes each one trains on the GPU of its "
                            "LOCAL_RANK; pass --device cuda")
    if world.local_rank >= torch.cuda.device_count():
        raise RainloopError(f"LOCAL_RANK={world.local_rank}: this machine has {torch.cuda.device_count()} GPUs; "
                            "start at most that many processes per node")
    return local


def backend_of(device: str) -> str:
    return "nccl" if device.startswith("cuda") else "gloo"


def share_of(batch: int, world: World) -> int:
    """How many images of the global batch each rank trains on."""
    if batch % world.size:
        raise world.error(f"--batch {batch}: the global batch does not split evenly over {world.size} processes "
                          f"(WORLD_SIZE); use a multiple of {world.size}")
    return batch // world.size


@contextlib.contextmanager
def group(world: World, device: str, timeout: timedelta | None = None):
    """The process group of a job of several processes (nothing for one). `timeout` (torch's
    default when None) bounds the wait at the rendezvous and for any peer afterwards."""
    if world.size == 1:
        yield
        return
    if device.startswith("cuda"):
        torch.cuda.set_device(device)
    addr = f"{os.environ.get('MASTER_ADDR')}:{os.environ.get('MASTER_PORT')}"
    try:
        with _stderr_dropped_on_error():  # c10d logs each failed connection try there
            dist.init_process_group(backend_of(device), rank=world.rank, world_size=world.size, timeout=timeout)
    except (RuntimeError, ValueError) as exc:  # torch's store and env:// errors: the rendezvous, not a bug
        raise RainloopError(f"rank {world.rank} of {world.size}: cannot reach the rendezvous at {addr} "
                            f"(MASTER_ADDR:MASTER_PORT): {str(exc).strip().splitlines()[0]}") from None
    try:
        yield
        dist.barrier()  # the job ends once rank 0 has written its last files
    finally:
        # DistributedDataParallel wrappers (freed with their model, often in reference cycles)
        # must go before the group: one destroyed after it aborts the process at exit.
        gc.collect()
        dist.destroy_process_group()


@contextlib.contextmanager
def _stderr_dropped_on_error():
    """Hold what C++ code writes to stderr; pass it on unless the block fails."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        failed = False
        try:
            yield
        except BaseException:
            failed = True
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            if not failed:
                held.seek(0)
                sys.stderr.buffer.write(held.read())
                sys.stderr.flush()


def from_main(world: World, fn):
    """fn() on rank 0 alone; its result, or its RainloopError, on every rank."""
    if world.size == 1:
        return fn()
    box = [None]
    if world.main:
        try:
            box = [(fn(), None)]
        except RainloopError as exc:
            box = [(None, str(exc))]
    dist.broadcast_object_list(box, src=0)
    value, error = box[0]
    if error:
        raise world.error(error)
    return value


def agree(world: World, fn):
    """fn() on every rank; a RainloopError met by any rank is raised on all."""
    if world.size == 1:
        return fn()
    try:
        value, error = fn(), None
    except RainloopError as exc:
        value, error = None, str(exc)
    errors = [None] * world.size
    dist.all_gather_object(errors, error)
    failed = [(rank, e) for rank, e in enumerate(errors) if e]
    if failed:
        rank, error = failed[0]
        raise world.error(error if rank == 0 else f"rank {rank}: {error}")
    return value


def share_state(world: World, state: tuple[dict[str, torch.Tensor], dict] | None,
                device: torch.device) -> tuple[dict[str, torch.Tensor], dict]:
    """Rank 0's (tensors, info) on every rank (None elsewhere), tensor by tensor over the group."""
    if world.size == 1:
        return state
    tensors, info = state if world.main else ({}, None)
    head = [{k: (v.shape, v.dtype) for k, v in tensors.items()}, info]
    dist.broadcast_object_list(head, src=0)
    shapes, info = head
    out = {}
    for key, (shape, dtype) in shapes.items():
        t = tensors[key].to(device) if world.main else torch.empty(shape, dtype=dtype, device=device)
        dist.broadcast(t, src=0)
        out[key] = t.cpu()
    return out, info


def step_means(world: World, terms: dict[str, float], stop: bool, device: torch.device) -> tuple[dict[str, float], bool]:
    """A step's terms averaged over the ranks (with equal shares: the global batch's values), and
    whether any rank was asked to stop, so that all stop after the same step."""
    if world.size == 1:
        return terms, stop
    t = torch.tensor([*terms.values(), float(stop)], dtype=torch.float64, device=device)
    dist.all_reduce(t)
    *sums, stops = t.tolist()
    return {k: s / world.size for k, s in zip(terms, sums)}, stops > 0


def gathered(world: World, t: torch.Tensor) -> torch.Tensor:
    """Every rank's share of a batch, in rank order: the global batch."""
    if world.size == 1:
        return t
    parts = [torch.empty_like(t) for _ in range(world.size)]
    dist.all_gather(parts, t.contiguous())
    return torch.cat(parts)


def own_share(world: World, t: torch.Tensor) -> torch.Tensor:
    n = len(t) // world.size
    return t[world.rank * n:(world.rank + 1) * n]


def replicate(module: torch.nn.Module, world: World) -> torch.nn.Module:
    """`module` under DistributedDataParallel (itself in one process): backward then averages the
    gradients of the parameters that require them at this call, over the ranks."""
    if world.size == 1:
        return module
    from torch.nn.parallel import DistributedDataParallel

    device = next(module.parameters()).device
    return DistributedDataParallel(module, device_ids=[device] if device.type == "cuda" else None)
