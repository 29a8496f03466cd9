import pytest


@pytest.fixture(scope="session")
def small_malls():
    """One mall of each shape with a sparse survey (8 m grid, 3 scans): the generator's full world,
    cheap enough for tests."""
    from fingerprints.mallgen import generate_mall

    return {shape: generate_mall(5, shape, survey_step_m=8.0, scans=3) for shape in ("linear", "ring")}
