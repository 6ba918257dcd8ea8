"""Advertisers: agents with monthly budgets who buy the free tier's impressions.

Each advertiser targets one genre, values an impression by how well the service can
target it, and splits its budget across the services that sell ads and an outside
medium (radio, social), shifting toward the better return with inertia.
"""

from __future__ import annotations

import mesa
import numpy as np


class Advertiser(mesa.Agent):
    """A buyer of audio ads.

    Attributes
    ----------
    budget : float
        Base budget, EUR/month (before growth and seasonality).
    genre : int
        Target genre.
    allocation : ndarray of shape (n_services + 1,)
        Share of the budget per service; the last entry is the outside medium. Sums to 1.
    """

    def __init__(self, model: mesa.Model, budget: float, genre: int, allocation: np.ndarray):
        super().__init__(model)
        self.budget = budget
        self.genre = genre
        self.allocation = allocation
        self.spend = np.zeros_like(allocation)  # EUR/month spent last clearing, per channel
