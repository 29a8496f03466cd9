"""Radio simulator: the RSSI a phone at (floor, x, y) would be heard at by each AP.

Log-distance path loss with wall and floor attenuation and log-normal shadowing:

    RSSI = P0 - 10 n log10(d / 1 m) - sum(wall losses) - F * floors_crossed + S(ap, x, y)
           + phone offset - body loss + e

S is a *static* shadowing field per AP (smooth in space, seeded), so a spot surveyed today and
measured again later looks alike, as in a real building; e is per-measurement fast fading.
Readings below the receiver sensitivity are not heard. Everything is seeded: reproducible.

The defaults are the demo mall's world (one wall loss, a six-wave shadowing field, no phone or body
effects). A realistic world (fingerprints/mallgen.py, bench/landing.py) turns on what real
buildings and phones add:
- `wall_losses`: a loss in dB per wall of each floor (glass shopfront, drywall, concrete core...);
- `correlation_m`: shadowing as a Gaussian random field with that correlation length, drawn by
  random Fourier features (many plane waves with Gaussian-distributed wave vectors), per AP and floor;
- `phone_offset_db` (per measurement or survey): at the AP, the phone's transmit power is the
  device-dependent term; PHONE_MODELS gives a spread of typical models;
- `body_db`: the shopper's body between phone and AP (full loss when the AP is behind her);
- `ap_outage`: which APs are off in the live phase; `ReportSchedule`: when each AP reports
  (native batches every few seconds, a Meraki-style subset once a minute).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from fingerprints.geometry import zone_map
from fingerprints.model import Sample, VenueMap

# Typical phones' RSSI offsets at the AP (dB, relative to the survey reference): transmit power and
# antenna differ by model; real spreads of 8-12 dB between models are common (Laoudias et al. 2013).
PHONE_MODELS: dict[str, float] = {
    "iphone-15": 0.0,
    "iphone-12": -2.0,
    "iphone-se": -5.0,
    "galaxy-s23": 2.0,
    "galaxy-a14": -4.0,
    "pixel-8": 1.0,
    "redmi-note-12": -6.0,
    "oppo-a78": -3.0,
    "huawei-nova-11": 3.0,
    "vivo-y36": -7.0,
}


FLOOR_HEIGHT_M = 5.0  # one storey, floor to floor: the distance a floor between two points adds
FADING_DB = 2.5  # fast fading: the scan-to-scan spread of one phone's readings at one spot


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
        floor_height_m: float = FLOOR_HEIGHT_M,
        shadowing_db: float = 3.5,
        fading_db: float = FADING_DB,
        sensitivity_dbm: float = -95.0,
        wall_losses: Mapping[int, Sequence[float]] | None = None,
        correlation_m: float | None = None,
        body_db: float = 0.0,
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
        self.correlation_m = correlation_m
        self.body_db = body_db
        self._walls = {f.level: np.asarray(f.walls, dtype=float).reshape(-1, 4) for f in venue.floors}
        self._wall_losses = {
            level: (np.asarray(wall_losses[level], dtype=float) if wall_losses and level in wall_losses
                    else np.full(len(walls), wall_db))
            for level, walls in self._walls.items()
        }
        for level, walls in self._walls.items():
            if len(self._wall_losses[level]) != len(walls):
                raise ValueError(f"floor {level}: {len(walls)} walls but {len(self._wall_losses[level])} losses")
        self._bssids = [ap.bssid for ap in venue.aps]
        self._ap_xyz = np.array([(ap.x, ap.y, ap.floor) for ap in venue.aps], dtype=float).reshape(-1, 3)
        self._shadow_terms = self._make_shadow_terms()

    # -- shadowing -------------------------------------------------------------------------------

    def _make_shadow_terms(self) -> np.ndarray:
        """A smooth random field per AP: a sum of random plane waves, (n_aps, n_waves, 3) = kx, ky, phase.
        Default: six waves of wavelength 8-30 m. With `correlation_m`: random Fourier features of a
        Gaussian covariance exp(-d^2 / 2 l^2), i.e. wave vectors drawn from N(0, 1/l^2) per axis."""
        rng = np.random.default_rng(self.seed)
        n_aps = len(self.venue.aps)
        if self.correlation_m is None:
            n_waves = 6
            wavelengths = rng.uniform(8.0, 30.0, size=(n_aps, n_waves))
            angles = rng.uniform(0, 2 * np.pi, size=(n_aps, n_waves))
            phases = rng.uniform(0, 2 * np.pi, size=(n_aps, n_waves))
            kx = 2 * np.pi / wavelengths * np.cos(angles)
            ky = 2 * np.pi / wavelengths * np.sin(angles)
            return np.stack([kx, ky, phases], axis=-1)
        n_waves = 48
        k = rng.normal(0.0, 1.0 / self.correlation_m, size=(n_aps, n_waves, 2))
        phases = rng.uniform(0, 2 * np.pi, size=(n_aps, n_waves))
        return np.concatenate([k, phases[..., None]], axis=-1)

    def _shadowing(self, x: float, y: float, floor: int) -> np.ndarray:
        terms = self._shadow_terms
        if self.correlation_m is None:
            arg = terms[..., 0] * x + terms[..., 1] * y + terms[..., 2] + floor * 1.3
        else:  # another floor is another field (a large shift decorrelates the features)
            arg = terms[..., 0] * x + terms[..., 1] * (y + 1000.0 * floor) + terms[..., 2]
        # sum of n unit sines has variance n/2: scale to the requested standard deviation
        return self.shadowing_db * np.sin(arg).sum(axis=1) / np.sqrt(terms.shape[1] / 2)

    # -- walls -----------------------------------------------------------------------------------

    def _wall_loss(self, floor: int, x: float, y: float, ax: np.ndarray, ay: np.ndarray) -> np.ndarray:
        """Summed loss (dB) of the walls crossed on the way from (x, y) to each of the points (ax, ay)."""
        walls = self._walls.get(floor)
        if walls is None or len(walls) == 0 or len(ax) == 0:
            return np.zeros(len(ax))
        rx, ry = (ax - x)[:, None], (ay - y)[:, None]
        qx, qy = walls[None, :, 0], walls[None, :, 1]
        sx, sy = (walls[:, 2] - walls[:, 0])[None, :], (walls[:, 3] - walls[:, 1])[None, :]
        denom = rx * sy - ry * sx
        with np.errstate(divide="ignore", invalid="ignore"):
            t = ((qx - x) * sy - (qy - y) * sx) / denom
            u = ((qx - x) * ry - (qy - y) * rx) / denom
        hits = (np.abs(denom) > 1e-12) & (t > 0) & (t < 1) & (u >= 0) & (u <= 1)
        return hits.astype(float) @ self._wall_losses[floor]

    # -- expected and measured RSSI ----------------------------------------------------------------

    def mean_vector(self, floor: int, x: float, y: float) -> np.ndarray:
        """Expected RSSI per AP (venue.aps order) at a spot, shadowing included, before fast fading."""
        ax, ay, af = self._ap_xyz[:, 0], self._ap_xyz[:, 1], self._ap_xyz[:, 2]
        dz = (af - floor) * self.floor_height_m
        d = np.maximum(1.0, np.sqrt((ax - x) ** 2 + (ay - y) ** 2 + dz**2))
        loss = 10 * self.path_loss_exponent * np.log10(d) + self.floor_db * np.abs(af - floor)
        same = af == floor
        if same.any():
            loss[same] += self._wall_loss(floor, x, y, ax[same], ay[same])
        return self.p0_dbm - loss + self._shadowing(x, y, floor)

    def mean_rssi(self, floor: int, x: float, y: float) -> dict[str, float]:
        """Expected RSSI per AP at a spot, shadowing included, before fast fading."""
        return dict(zip(self._bssids, self.mean_vector(floor, x, y).tolist(), strict=True))

    def body_loss(self, x: float, y: float, heading: float | None, rng: np.random.Generator) -> np.ndarray:
        """Loss per AP from the shopper's body: body_db when the AP is right behind her, none ahead.
        heading: walking direction (radians); None: a random way the shopper faces."""
        if not self.body_db:
            return np.zeros(len(self._bssids))
        heading = rng.uniform(0, 2 * np.pi) if heading is None else heading
        bearing = np.arctan2(self._ap_xyz[:, 1] - y, self._ap_xyz[:, 0] - x)
        return self.body_db * (1 - np.cos(bearing - heading)) / 2

    def scan_vector(
        self, floor: int, x: float, y: float, rng: np.random.Generator, *, phone_offset_db: float = 0.0,
        heading: float | None = None, mean: np.ndarray | None = None,
    ) -> np.ndarray:
        """One scan as a vector in venue.aps order: integer dBm, NaN where the AP does not hear it."""
        mean = self.mean_vector(floor, x, y) if mean is None else mean
        if phone_offset_db or self.body_db:
            mean = mean + phone_offset_db - self.body_loss(x, y, heading, rng)
        values = np.round(mean + rng.normal(0.0, self.fading_db, size=len(mean)))
        return np.where(values >= self.sensitivity_dbm, np.minimum(values, -10.0), np.nan)

    def measure(
        self, floor: int, x: float, y: float, rng: np.random.Generator | None = None, *,
        phone_offset_db: float = 0.0, heading: float | None = None, off: Iterable[str] = (),
        mean: np.ndarray | None = None,
    ) -> dict[str, float]:
        """One scan: integer dBm per AP that hears the phone (as real APs report). `off`: APs that are
        down; `mean`: mean_vector(floor, x, y) when the caller already has it."""
        rng = rng or np.random.default_rng()
        values = self.scan_vector(floor, x, y, rng, phone_offset_db=phone_offset_db, heading=heading, mean=mean)
        down = set(off)
        return {b: float(v) for b, v in zip(self._bssids, values.tolist(), strict=True)
                if v == v and b not in down}

    def survey_point(
        self, floor: int, x: float, y: float, scans: int, rng: np.random.Generator, zone: str | None = None,
        *, phone_offset_db: float = 0.0,
    ) -> Sample:
        """Average several scans at one reference point, as a survey device standing there would."""
        mean = self.mean_vector(floor, x, y)
        values = np.stack([self.scan_vector(floor, x, y, rng, phone_offset_db=phone_offset_db, mean=mean)
                           for _ in range(scans)])
        heard = ~np.isnan(values)
        count = heard.sum(axis=0)
        filled = np.where(heard, values, 0.0)
        avg = filled.sum(axis=0) / np.maximum(count, 1)
        spread = np.sqrt((np.where(heard, values - avg, 0.0) ** 2).sum(axis=0) / np.maximum(count, 1))
        # An AP heard in fewer than half the scans is too marginal to keep in the fingerprint.
        kept = [i for i in range(len(self._bssids)) if count[i] and count[i] * 2 >= scans]
        return Sample(
            floor=floor,
            x=round(x, 2),
            y=round(y, 2),
            rssi={self._bssids[i]: round(float(avg[i]), 1) for i in kept},
            spread={self._bssids[i]: round(float(spread[i]), 2) for i in kept},
            n=scans,
            zone=zone,
        )

    def survey_grid(
        self, step_m: float = 3.0, scans: int = 8, points: Iterable[tuple[int, float, float]] | None = None,
        *, phone_offset_db: float = 0.0,
    ) -> list[Sample]:
        """Survey reference points on a regular grid over every floor (or the given points), with one
        survey phone (`phone_offset_db` its offset)."""
        rng = np.random.default_rng(self.seed + 1)
        zones = zone_map(self.venue)
        if points is None:
            points = [
                (f.level, float(x), float(y))
                for f in self.venue.floors
                for x in np.arange(step_m / 2, f.width_m, step_m)
                for y in np.arange(step_m / 2, f.height_m, step_m)
            ]
        return [self.survey_point(fl, x, y, scans, rng, zones.zone_at(fl, x, y), phone_offset_db=phone_offset_db)
                for fl, x, y in points]


def ap_outage(venue: VenueMap, fraction: float, seed: int) -> set[str]:
    """The APs that are off during the live phase: `fraction` of them (rounded), chosen by `seed`."""
    rng = np.random.default_rng(seed)
    n = int(round(fraction * len(venue.aps)))
    picked = rng.choice(len(venue.aps), size=n, replace=False) if n else []
    return {venue.aps[int(i)].bssid for i in picked}


@dataclass(frozen=True)
class ApReporting:
    bssid: str
    kind: str  # "native": a batch every period_s; "meraki": once a minute, the latest reading per client
    period_s: int
    phase_s: int

    def due(self, t: int) -> bool:
        return t % self.period_s == self.phase_s


def report_schedule(venue: VenueMap, seed: int, meraki_share: float = 0.2,
                    native_periods_s: Sequence[int] = (3, 4, 5, 6)) -> list[ApReporting]:
    """When each AP reports (integer seconds): most post native batches every few seconds, a
    `meraki_share` of them go through a Meraki-style network that posts once a minute."""
    rng = np.random.default_rng(seed)
    out = []
    for ap in venue.aps:
        if rng.random() < meraki_share:
            out.append(ApReporting(ap.bssid, "meraki", 60, int(rng.integers(0, 60))))
        else:
            period = int(rng.choice(native_periods_s))
            out.append(ApReporting(ap.bssid, "native", period, int(rng.integers(0, period))))
    return out
