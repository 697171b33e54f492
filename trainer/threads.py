"""Adapts torch's CPU thread count while training.

On a 2-core machine two OpenMP threads collapse (400 -> 18 img/s measured) when another process takes a
core; one thread then does far better. Every `period` steps the tuner times a short trial at the other
thread count and keeps whichever was faster.
"""

from __future__ import annotations

import logging
import statistics

import torch

log = logging.getLogger("trainer")


class ThreadTuner:
    def __init__(self, period: int = 300, trial: int = 12, warmup: int = 3):
        self.best = torch.get_num_threads()
        self.choices = sorted({1, self.best})
        self.period, self.trial, self.warmup = period, trial, warmup
        self.recent: list[float] = []
        self.trial_times: list[float] = []
        self.steps = 0
        self.in_trial = False

    def observe(self, seconds: float) -> None:
        if len(self.choices) < 2:
            return
        self.steps += 1
        if not self.in_trial:
            self.recent = (self.recent + [seconds])[-self.trial:]
            if self.steps % self.period == 0:
                self.in_trial = True
                self.trial_times = []
                torch.set_num_threads(next(c for c in self.choices if c != self.best))
            return
        self.trial_times.append(seconds)
        if len(self.trial_times) >= self.trial + self.warmup:
            trial = statistics.median(self.trial_times[self.warmup:])
            current = statistics.median(self.recent)
            other = torch.get_num_threads()
            if trial < 0.9 * current:
                log.info("threads: %d -> %d (step %.0f ms -> %.0f ms)", self.best, other, current * 1e3, trial * 1e3)
                self.best = other
            torch.set_num_threads(self.best)
            self.in_trial = False
            self.recent = []
