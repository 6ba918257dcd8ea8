"""An idiomatic per-agent Mesa model of a reduced listener step, timed per agent-step.

The reference the array model is compared with (``benchmarks/step.py`` prints the ratio).
Each agent is a ``mesa.Agent`` with about 10 friends (a ring of 5 on each side with 10%
rewired), and each step, in random order (``shuffle_do``), it does what the array model's
core does per listener:

- word of mouth: an unaware agent counts its friends who use a service and becomes aware
  with probability ``1 - exp(-(p + q * share))``;
- choice: an aware agent who reviews (20% a month) scores 8 options (nothing, 7 offers)
  with a utility from its own traits and picks one from their logit by inverse CDF;
- hours: a user's listening hours from its base hours, tier and satisfaction.

    .venv/bin/python benchmarks/mesa_agents.py [--agents 20000] [--steps 5]

Prints microseconds per agent-step; asserts nothing.
"""

from __future__ import annotations

import argparse
import math
import time

import mesa

OPTIONS = 8
P, Q, REVIEW, NOISE = 0.002, 0.05, 0.2, 1.9


class Listener(mesa.Agent):
    """One listener: traits, state, friends."""

    def __init__(self, model: "Market"):
        super().__init__(model)
        r = model.random
        self.wtp = r.lognormvariate(1.5, 0.6)
        self.base_hours = r.lognormvariate(3.0, 0.5)
        self.ad_sensitivity = r.uniform(0.0, 0.2)
        self.outside = r.gauss(2.0, 1.0)
        self.aware = r.random() < 0.2
        self.option = 0  # 0 = nothing
        self.satisfaction = 0.5
        self.hours = 0.0
        self.friends: list[Listener] = []

    def step(self) -> None:
        m, r = self.model, self.model.random
        if not self.aware:
            using = sum(1 for f in self.friends if f.option > 0)
            share = using / len(self.friends) if self.friends else 0.0
            if r.random() < 1.0 - math.exp(-(P + Q * share)):
                self.aware = True
            return
        if self.option == 0 or r.random() < REVIEW:
            rel = self.base_hours / 20.0
            utils = [self.outside]
            for k in range(1, OPTIONS):
                premium = k % 2 == 0
                u = m.content[k] * rel
                u += (self.wtp - m.price[k]) if premium else -m.ad_load[k] * self.base_hours * self.ad_sensitivity
                if k == self.option:
                    u += 1.0
                utils.append(u)
            top = max(utils)
            weights = [math.exp((u - top) / NOISE) for u in utils]
            threshold = r.random() * sum(weights)
            acc, choice = 0.0, OPTIONS - 1
            for k, w in enumerate(weights):
                acc += w
                if acc >= threshold:
                    choice = k
                    break
            self.option = choice
        if self.option > 0:
            premium = self.option % 2 == 0
            ads = 1.0 if premium else math.exp(-0.05 * m.ad_load[self.option])
            self.hours = self.base_hours * (1.2 if premium else 1.0) * ads * (1.0 + 0.4 * (self.satisfaction - 0.5))
            self.satisfaction = 0.8 * self.satisfaction + 0.2 * (1.0 if self.hours > self.base_hours else 0.3)
        else:
            self.hours = 0.0


class Market(mesa.Model):
    """``n`` listeners on a small world of about 10 friends each."""

    def __init__(self, n: int, seed: int = 1):
        super().__init__(seed=seed)
        self.content = [0.0] + [5.0 + k * 0.3 for k in range(1, OPTIONS)]
        self.price = [0.0] + [6.0 + k for k in range(1, OPTIONS)]
        self.ad_load = [0.0] + [2.0 + 0.2 * k for k in range(1, OPTIONS)]
        people = [Listener(self) for _ in range(n)]
        for i, a in enumerate(people):
            for d in range(1, 6):
                j = (i + d) % n if self.random.random() > 0.1 else self.random.randrange(n)
                if j != i:
                    a.friends.append(people[j])
                    people[j].friends.append(a)

    def step(self) -> None:
        self.agents.shuffle_do("step")


def seconds_per_agent_step(agents: int = 20_000, steps: int = 5, clock=time.process_time) -> float:
    """Median over ``steps`` steps of one step's time (CPU time by default) divided by the agents
    (after one warm-up step)."""
    model = Market(agents)
    model.step()
    times = []
    for _ in range(steps):
        t = clock()
        model.step()
        times.append(clock() - t)
    times.sort()
    return times[len(times) // 2] / agents


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=20_000)
    parser.add_argument("--steps", type=int, default=5)
    args = parser.parse_args()
    print(f"per-agent Mesa model, {args.agents:,} agents: {1e6 * seconds_per_agent_step(args.agents, args.steps):.2f} us per agent-step")


if __name__ == "__main__":
    main()
