"""`evaluate` as the live path works: APs the test file shows gone left out (`gone_columns`), each phone's
offset remembered over its vectors (`locate_remembering`), beside the figure of each vector alone."""

import json

import numpy as np

from positioning import phone_offset
from positioning.cli import main
from positioning.datasets import Dataset, write_mallportal
from positioning.perturb import shift_rssi
from positioning.vectors import MISSING_DBM, gone_columns
from positioning.wknn import WKNNPositioner

from .test_vectors_datasets_cli import write_uji
from .test_wknn import campus


def test_silent_columns_are_aps_enough_live_rows_should_have_heard():
    train = np.full((10, 5), MISSING_DBM)
    train[:5, 0] = -60.0  # heard by half the survey
    train[:1, 1] = -70.0  # by a tenth
    train[:, 3:] = -50.0  # APs 3 and 4 by every row; AP 2 by none: 4 APs heard
    live = np.full((10, 5), MISSING_DBM)
    live[:, 3:] = -55.0
    assert gone_columns(train, live).tolist() == [0]  # 5 live rows expected to hear AP 0; 1 AP 1; AP 2 never
    assert gone_columns(train, live[:9]).tolist() == []  # 4.5 expected: a short file silences nothing
    assert gone_columns(train, live, min_expected=1.0).tolist() == [0, 1]
    live[7, 0] = -90.0
    assert gone_columns(train, live).tolist() == []  # heard once: alive
    nothing = np.full((10, 5), MISSING_DBM)
    assert gone_columns(train, nothing).tolist() == []  # 3 of the 4 heard APs: the feed, not the APs
    assert gone_columns(train, nothing, max_share=0.75).tolist() == [0, 3, 4]
    exact = np.full((77, 2), MISSING_DBM)
    exact[:5, 0], exact[:, 1] = -60.0, -50.0
    live = np.full((77, 2), MISSING_DBM)
    live[:, 1] = -50.0
    assert gone_columns(exact, live).tolist() == [0]  # exactly 5 expected (5/77 x 77): counted whole


def test_a_long_file_from_one_wing_does_not_silence_the_other_wings_aps():
    """Placed among fingerprints (`neighbours`), vectors that never went near an AP do not count towards
    silencing it, however many they are; by the survey's overall rate they would."""
    train = np.full((20, 3), MISSING_DBM)
    train[:10, 0] = -60.0  # wing A hears AP 0
    train[10:, 1] = -60.0  # wing B hears AP 1
    train[:, 2] = -70.0
    live = np.full((200, 3), MISSING_DBM)
    live[:, 0], live[:, 2] = -62.0, -71.0  # all in wing A
    in_wing_a = [range(0, 5)] * 200
    assert gone_columns(train, live).tolist() == [1]  # the overall rate: 100 expected to hear AP 1
    assert gone_columns(train, live, in_wing_a).tolist() == []
    live[:, 0] = MISSING_DBM  # AP 0 gone while they stood under it
    assert gone_columns(train, live, in_wing_a).tolist() == [0]


def test_a_phones_offset_is_remembered_over_its_vectors_in_time_order():
    X, y = campus(n=700)
    model = WKNNPositioner(k=5, offset_rounds=2).fit(X[:500], y[:500])
    queries = np.vstack([shift_rssi(X[500:560], -10.0), X[560:620]])
    phones = np.repeat([7, 3], 60)
    times = np.concatenate([np.arange(60)[::-1], np.arange(60)])  # phone 7's rows listed latest first
    remembered = phone_offset.locate_remembering(model, queries, phones, times)
    alone = model.locate_many(queries)
    for row in (59, 60):  # each phone's first vector in time: nothing remembered yet
        assert np.allclose([remembered[row].x, remembered[row].y], [alone[row].x, alone[row].y])
    state = None
    for row in range(59, -1, -1):  # phone 7 in its time order, by hand
        vector, applied = phone_offset.applied(queries[row], state)
        estimate = model.locate(vector)
        assert np.allclose([remembered[row].x, remembered[row].y], [estimate.x, estimate.y])
        state = phone_offset.updated(state, applied, phone_offset.residual(model, vector, estimate))
    assert -12.0 < phone_offset.remembered(state)[0] < -7.0
    error = lambda estimates, rows: np.mean([np.hypot(e.x - t[2], e.y - t[3])  # noqa: E731
                                             for e, t in zip([estimates[r] for r in rows], y[500 + rows], strict=True)])
    assert error(remembered, np.arange(20)) < error(alone, np.arange(20))  # its later vectors: the offset known


def test_evaluate_gives_the_live_path_and_each_vector_alone(tmp_path, capsys):
    """A test file naming its phones: each phone's vectors with its offset remembered (default) beside each vector
    alone; a phone reading 10 dB quieter is placed better remembered. APs gone from the whole file are left out."""
    X, y = campus(n=700)
    test = X[400:].copy()
    test[:150] = shift_rssi(test[:150], -10.0)
    gone = np.argsort((X[:400] > MISSING_DBM).sum(axis=0))[-2:]  # the two APs most heard
    test[:, gone] = MISSING_DBM
    write_uji(tmp_path / "train.csv", X[:400], y[:400])
    write_uji(tmp_path / "test.csv", test, y[400:], phone=np.repeat([1, 2], 150))
    files = ["--train", str(tmp_path / "train.csv"), "--test", str(tmp_path / "test.csv"), "--quiet"]
    assert main(["evaluate", *files, "--json", "--no-baselines"]) == 0
    live = json.loads(capsys.readouterr().out)
    assert live["phones"] == 2 and live["aps_silent"] == 2
    assert live["mean_error_m"] < live["alone"]["mean_error_m"]
    assert main(["evaluate", *files, "--json", "--no-baselines", "--each-alone", "--keep-silent"]) == 0
    plain = json.loads(capsys.readouterr().out)
    assert plain["phones"] == 0 and plain["aps_silent"] == 0
    assert plain["mean_error_m"] == plain["alone"]["mean_error_m"] == live["alone"]["mean_error_m"]
    assert main(["evaluate", *files]) == 0
    out = capsys.readouterr().out
    assert "each of the test file's 2 phones located in its time order" in out
    assert "2 APs the training set hears and the test vectors never do" in out
    assert "each vector alone, every AP kept" in out


def test_a_phones_memory_lapses_after_a_gap_as_the_trackers_state_does():
    X, y = campus(n=700)
    model = WKNNPositioner(k=5, offset_rounds=2).fit(X[:500], y[:500])
    queries = shift_rssi(X[500:530], -10.0)
    times = np.concatenate([np.arange(15.0), 1000.0 + np.arange(15.0)])  # two visits, 985 s apart
    phones = np.zeros(30, dtype=int)
    gap = phone_offset.locate_remembering(model, queries, phones, times, forget_after_s=300.0)
    whole = phone_offset.locate_remembering(model, queries, phones, times)
    alone = model.locate_many(queries)
    assert np.allclose([gap[15].x, gap[15].y], [alone[15].x, alone[15].y])  # the second visit starts afresh
    assert not np.allclose([whole[15].x, whole[15].y], [alone[15].x, alone[15].y])  # remembered across the gap
    assert all(np.allclose([a.x, a.y], [b.x, b.y]) for a, b in zip(gap[:15], whole[:15], strict=True))
    untimed = phone_offset.locate_remembering(model, queries, phones)  # no times: X's order, nothing forgotten
    assert all(np.allclose([a.x, a.y], [b.x, b.y]) for a, b in zip(untimed, whole, strict=True))
    tied = phone_offset.locate_remembering(model, queries, phones, np.zeros(30))  # ties: X's order
    assert all(np.allclose([a.x, a.y], [b.x, b.y]) for a, b in zip(tied, whole, strict=True))


def test_a_known_offset_narrows_the_search_as_the_tracker_does(monkeypatch):
    """With the positioner's offset search on, a phone is searched its full reach until its offset is known
    (`phone_offset.KNOWN_AFTER` matches), then `KNOWN_SEARCH_DB` either side of what it remembers."""
    X, y = campus(n=700)
    model = WKNNPositioner(k=5, offset_rounds=2, offset_search_db=10.0).fit(X[:500], y[:500])
    reaches = []
    real = model.locate_many

    def spy(Q, search_db=None):
        reaches.append(np.asarray(search_db).tolist())
        return real(Q, search_db=search_db)

    monkeypatch.setattr(model, "locate_many", spy)
    phone_offset.locate_remembering(model, shift_rssi(X[500:506], 8.0), np.zeros(6, dtype=int))
    assert reaches == [[10.0]] * phone_offset.KNOWN_AFTER + [[phone_offset.KNOWN_SEARCH_DB]] * 3


def test_evaluate_zones_and_the_aps_left_out(tmp_path, capsys):
    """Zone rates for both figures from files naming zones; --mask-off leaves out the APs switched off beside those
    the file shows silent; a negative gap is refused."""
    X, y = campus(n=500)
    zones = [f"z{int(b)}{int(f)}" for b, f in y[:, :2]]
    test = X[300:].copy()
    gone = np.argsort((X[:300] > MISSING_DBM).sum(axis=0))[-2:]
    test[:, gone] = MISSING_DBM
    write_mallportal(tmp_path / "train.csv", Dataset(X=X[:300], y=y[:300], ap_ids=[f"ap{i}" for i in range(40)],
                                                    zones=zones[:300]))
    write_mallportal(tmp_path / "test.csv", Dataset(X=test, y=y[300:], ap_ids=[f"ap{i}" for i in range(40)],
                                                   zones=zones[300:]))
    files = ["--train", str(tmp_path / "train.csv"), "--test", str(tmp_path / "test.csv"), "--quiet",
             "--no-baselines", "--json"]
    assert main(["evaluate", *files]) == 0
    live = json.loads(capsys.readouterr().out)
    assert live["zone_hit_rate"] > 0.9 and live["alone"]["zone_hit_rate"] > 0.9 and live["aps_silent"] == 2
    assert main(["evaluate", *files, "--ap-off", "0.3", "--seed", "2"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert main(["evaluate", *files, "--ap-off", "0.3", "--seed", "2", "--mask-off"]) == 0
    told = json.loads(capsys.readouterr().out)
    assert told["aps_masked"] == round(0.3 * 38) and told["aps_silent"] == found["aps_silent"] >= 2
    assert main(["evaluate", *files, "--visit-gap-s", "-1"]) == 2
    assert "--visit-gap-s must be 0 or more" in capsys.readouterr().err
