"""Radio simulator: the RSSI a phone at (floor, x, y) would be heard at by each AP.

Log-distance path loss with wall and floor attenuation and log-normal shadowing:

    RSSI = P0 - 10 n log10(d / 1 m) - W * walls_crossed - F * floors_crossed + S(ap, x, y) + e

S is a *static* shadowing field per AP (smooth in space, seeded), so a spot surveyed today and
measured again later looks alike, as in a real building; e is per-measurement fast fading.
Readings below the receiver sensitivity are not heard. Everything is seeded: reproducible.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from fingerprints.geometry import zone_map
from fingerprints.model import Sample, VenueMap


class RadioSimulator:
    def __init__(
        self,
        venue: VenueMap,
        *,
        seed: int = 7,
        p0_dbm: float = -35.0,
        path_loss_exponent: float = 2.2,
        wall_db: float = 4.0,
        floor_db: float = 16.0,
        floor_height_m: float = 5.0,
        shadowing_db: float = 3.5,
        fading_db: float = 2.5,
        sensitivity_dbm: float = -95.0,
    ) -> None:
        self.venue = venue
        self.seed = seed
        self.p0_dbm = p0_dbm
        self.path_loss_exponent = path_loss_exponent
        self.wall_db = wall_db
        self.floor_db = floor_db
        self.floor_height_m = floor_height_m
        self.shadowing_db = shadowing_db
        self.fading_db = fading_db
        self.sensitivity_dbm = sensitivity_dbm
        self._walls = {f.level: np.asarray(f.walls, dtype=float).reshape(-1, 4) for f in venue.floors}
        self._shadow_terms = self._make_shadow_terms()

    def _make_shadow_terms(self) -> np.ndarray:
        """A smooth random field per AP: a sum of a few random plane waves (wavelength 8-30 m)."""
        rng = np.random.default_rng(self.seed)
        n_aps, n_waves = len(self.venue.aps), 6
        wavelengths = rng.uniform(8.0, 30.0, size=(n_aps, n_waves))
        angles = rng.uniform(0, 2 * np.pi, size=(n_aps, n_waves))
        phases = rng.uniform(0, 2 * np.pi, size=(n_aps, n_waves))
        kx = 2 * np.pi / wavelengths * np.cos(angles)
        ky = 2 * np.pi / wavelengths * np.sin(angles)
        return np.stack([kx, ky, phases], axis=-1)  # (n_aps, n_waves, 3)

    def _shadowing(self, x: float, y: float, floor: int) -> np.ndarray:
        terms = self._shadow_terms
        arg = terms[..., 0] * x + terms[..., 1] * y + terms[..., 2] + floor * 1.3
        # sum of n unit sines has variance n/2: scale to the requested standard deviation
        return self.shadowing_db * np.sin(arg).sum(axis=1) / np.sqrt(terms.shape[1] / 2)

    def _walls_crossed(self, floor: int, x: float, y: float, ax: float, ay: float) -> int:
        walls = self._walls.get(floor)
        if walls is None or len(walls) == 0:
            return 0
        px, py, rx, ry = x, y, ax - x, ay - y
        qx, qy = walls[:, 0], walls[:, 1]
        sx, sy = walls[:, 2] - qx, walls[:, 3] - qy
        denom = rx * sy - ry * sx
        with np.errstate(divide="ignore", invalid="ignore"):
            t = ((qx - px) * sy - (qy - py) * sx) / denom
            u = ((qx - px) * ry - (qy - py) * rx) / denom
        hits = (np.abs(denom) > 1e-12) & (t > 0) & (t < 1) & (u >= 0) & (u <= 1)
        return int(hits.sum())

    def mean_rssi(self, floor: int, x: float, y: float) -> dict[str, float]:
        """Expected RSSI per AP at a spot, shadowing included, before fast fading."""
        shadow = self._shadowing(x, y, floor)
        out: dict[str, float] = {}
        for i, ap in enumerate(self.venue.aps):
            dz = (ap.floor - floor) * self.floor_height_m
            d = max(1.0, float(np.sqrt((ap.x - x) ** 2 + (ap.y - y) ** 2 + dz**2)))
            loss = 10 * self.path_loss_exponent * np.log10(d)
            loss += self.floor_db * abs(ap.floor - floor)
            if ap.floor == floor:
                loss += self.wall_db * self._walls_crossed(floor, x, y, ap.x, ap.y)
            out[ap.bssid] = self.p0_dbm - loss + float(shadow[i])
        return out

    def measure(
        self, floor: int, x: float, y: float, rng: np.random.Generator | None = None
    ) -> dict[str, float]:
        """One scan: integer dBm per AP that hears the phone (as real APs report)."""
        rng = rng or np.random.default_rng()
        reading: dict[str, float] = {}
        for bssid, mean in self.mean_rssi(floor, x, y).items():
            value = round(mean + rng.normal(0.0, self.fading_db))
            if value >= self.sensitivity_dbm:
                reading[bssid] = float(min(value, -10))
        return reading

    def survey_point(
        self, floor: int, x: float, y: float, scans: int, rng: np.random.Generator, zone: str | None = None
    ) -> Sample:
        """Average several scans at one reference point, as a survey device standing there would."""
        per_ap: dict[str, list[float]] = {}
        for _ in range(scans):
            for bssid, value in self.measure(floor, x, y, rng).items():
                per_ap.setdefault(bssid, []).append(value)
        # An AP heard in fewer than half the scans is too marginal to keep in the fingerprint.
        kept = {b: v for b, v in per_ap.items() if len(v) * 2 >= scans}
        return Sample(
            floor=floor,
            x=round(x, 2),
            y=round(y, 2),
            rssi={b: round(float(np.mean(v)), 1) for b, v in kept.items()},
            spread={b: round(float(np.std(v)), 2) for b, v in kept.items()},
            n=scans,
            zone=zone,
        )

    def survey_grid(
        self, step_m: float = 3.0, scans: int = 8, points: Iterable[tuple[int, float, float]] | None = None
    ) -> list[Sample]:
        """Survey reference points on a regular grid over every floor (or the given points)."""
        rng = np.random.default_rng(self.seed + 1)
        zones = zone_map(self.venue)
        if points is None:
            points = [
                (f.level, float(x), float(y))
                for f in self.venue.floors
                for x in np.arange(step_m / 2, f.width_m, step_m)
                for y in np.arange(step_m / 2, f.height_m, step_m)
            ]
        return [self.survey_point(fl, x, y, scans, rng, zones.zone_at(fl, x, y)) for fl, x, y in points]
