"""Progress of a long run, reported from inside the compiled loops.

One bar per phase, each with its total: seed steps (out of the step budget, with
how many seeds are in band), the ladder's levels (with how far the level's band
is from the target band) and samples (out of n); for a batch, problems done
(out of B), reported from the host as each round of devices finishes. On a terminal the bars are
tqdm's; when the output is not a terminal (a log file, a pipe) a plain line is
written every few seconds instead of carriage-return updates.
"""

from __future__ import annotations

import sys
import time

import jax
import jax.numpy as jnp


class Progress:
    """Host-side progress fed by ``jax.debug.callback`` from the seed and walker loops."""

    def __init__(self, num_seeds: int, seed_budget: int, n: int, stream=None, interval_s: float = 5.0):
        self.num_seeds, self.seed_budget, self.n = num_seeds, seed_budget, n
        self.stream = stream if stream is not None else sys.stderr
        self.interval_s = interval_s
        self.bars: dict = {}
        self.last_line = 0.0

    # ----------------------------------------------------------------- host side

    def _is_terminal(self) -> bool:
        return hasattr(self.stream, "isatty") and self.stream.isatty()

    def _update(self, phase: str, value: int, total: int, note: str = "") -> None:
        if self._is_terminal():
            from tqdm.auto import tqdm

            bar = self.bars.get(phase)
            if bar is None:
                self.close()
                unit = {"seeds": "step", "ladder": "level", "problems": "problem"}.get(phase, "sample")
                bar = self.bars[phase] = tqdm(total=total, desc=phase, unit=unit, file=self.stream, leave=False)
            bar.set_postfix_str(note, refresh=False)
            bar.update(value - bar.n)
            return
        now = time.monotonic()
        finished = total is not None and value >= total
        count = value if total is None else f"{value}/{total}"
        line = f"{phase}: {count}" + (f" ({note})" if note else "")
        if phase not in self.bars:
            self._flush()  # the last line of the phase before, if it was not printed
        if phase not in self.bars or finished or now - self.last_line >= self.interval_s:
            self.last_line = now
            print(line, file=self.stream, flush=True)
            line = None
        self.bars[phase] = line  # the line not printed yet, or None

    def _flush(self) -> None:
        """Print the phases' last lines not printed yet (plain-text mode), so each phase ends on its final count."""
        for phase, line in list(self.bars.items()):
            if isinstance(line, str):
                print(line, file=self.stream, flush=True)
                self.bars[phase] = None

    def on_seed(self, step, num_inside) -> None:
        self._update("seeds", int(step), self.seed_budget, f"{int(num_inside)}/{self.num_seeds} seeds in band")

    def on_level(self, level, threshold) -> None:
        self._update("ladder", int(level), None, f"the band relaxed by {float(threshold):.3g} band widths")

    def on_walk(self, num_kept) -> None:
        self._update("samples", int(num_kept), self.n)

    def on_problems(self, done: int, total: int, note: str = "") -> None:
        """Host side, for a batch: problems finished so far."""
        self._update("problems", done, total, note)

    def close(self) -> None:
        self._flush()
        for bar in self.bars.values():
            if bar is not None and not isinstance(bar, str):
                bar.close()
        self.bars.clear()

    # ----------------------------------------------------------------- traced side

    def seed_callback(self, bands):
        """``callback(state)`` for :func:`inverse_set.paper.seeds.run`."""
        return lambda state: jax.debug.callback(self.on_seed, state.step, jnp.sum(bands.contains(state.f)))

    def level_callback(self, state) -> None:
        """``callback(state)`` for :func:`inverse_set.particles.ladder.climb`, after each level."""
        jax.debug.callback(self.on_level, state.level, state.threshold)

    def walk_callback(self, state) -> None:
        """``callback(state)`` for :func:`inverse_set.walks.run` (any walk: its state has a ``buffer``)."""
        jax.debug.callback(self.on_walk, state.buffer.count)
