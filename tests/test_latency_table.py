"""gramlib.latency_table: per-operation latency measured once, estimates that make a search reproducible."""

import json
import re

import pytest

from conftest import synthetic_proxy
from gramlib.latency_table import LatencyTable, LatencyTableError
from gramlib.metagraph import MetaGraph
from gramlib.model import build_model
from gramlib.profiles import get_profile
from gramlib.search import search

SHAPE = (3, 16, 16)


@pytest.fixture(scope="module")
def smoke_table():
    return LatencyTable.measure(get_profile("smoke").space, SHAPE, num_classes=4, runs=3, warmup=1, progress=False)


def test_estimates_are_deterministic_sums_of_the_table(smoke_table):
    p = get_profile("smoke")
    mg = MetaGraph(p.space, p.rule, seed=0)
    big, small = (build_model(mg.prune(level), 4, 3) for level in (0.0, 0.9))
    est = smoke_table.estimate_ms(big, SHAPE)
    assert est == smoke_table.estimate_ms(big, SHAPE) > 0  # same number every time
    assert est > smoke_table.estimate_ms(small, SHAPE)  # a pruned candidate is estimated cheaper
    key, e = next(iter(smoke_table.entries.items()))
    k, s, c, side = (int(x) for x in re.match(r"k(\d+)-s(\d+)-c(\d+)-(\d+)px", key).groups())
    if len(e["cin"]) > 1:  # exact at the measured widths, linear between them
        assert smoke_table.block_ms(k, s, e["cin"][1], c, side) == pytest.approx(e["ms"][1])
        mid = (e["cin"][0] + e["cin"][1]) / 2
        assert smoke_table.block_ms(k, s, mid, c, side) == pytest.approx((e["ms"][0] + e["ms"][1]) / 2)
    with pytest.raises(LatencyTableError, match="no entry k7-s1-c8"):
        smoke_table.block_ms(7, 1, 8, 8, side)


def test_table_file_roundtrip_and_what_it_refuses(tmp_path, smoke_table):
    f = tmp_path / "table.json"
    smoke_table.save(f)
    again = LatencyTable.load(f)
    assert again.entries == smoke_table.entries and again.fingerprint == smoke_table.fingerprint
    assert again.info["cpu"] and again.info["torch"]
    again.check(get_profile("smoke").space, SHAPE)
    with pytest.raises(LatencyTableError, match="another search space or input"):
        again.check(get_profile("smoke").space, (3, 32, 32))
    f.write_text(f.read_text()[:50])
    with pytest.raises(LatencyTableError, match=re.escape(str(f))):
        LatencyTable.load(f)
    f.write_text(json.dumps({"format": "something else"}))
    with pytest.raises(LatencyTableError, match="not a gramlib latency table"):
        LatencyTable.load(f)


def test_a_latency_cost_search_is_reproducible_with_a_table(tmp_path):
    """The paper's reward (accuracy minus a latency cost) with latency from the table: same seed, byte-identical
    meta-graphs; the table is measured once and then only read."""
    p = get_profile("smoke", rule={"cost": "latency_ms", "gamma": 1.0},
                    search={"iterations": 4, "latency": "table", "latency_table": str(tmp_path / "table.json")})
    proxy = synthetic_proxy()
    search(p.space, p.rule, p.search, tmp_path / "a", proxy=proxy, progress=False)
    measured_at = (tmp_path / "table.json").stat().st_mtime_ns
    search(p.space, p.rule, p.search, tmp_path / "b", proxy=proxy, progress=False)
    assert (tmp_path / "table.json").stat().st_mtime_ns == measured_at
    assert (tmp_path / "a" / "metagraph.json").read_bytes() == (tmp_path / "b" / "metagraph.json").read_bytes()
    rows = [json.loads(line) for line in (tmp_path / "a" / "history.jsonl").read_text().splitlines()]
    assert all(r["cost"] == pytest.approx(r["latency_ms"]) and r["latency_ms"] > 0 for r in rows)
    with pytest.raises(ValueError, match="latency must be one of"):
        get_profile("smoke", search={"latency": "guessed"})


def test_two_cpu_profile_searches_with_one_seed_give_byte_identical_metagraphs(tmp_path):
    """The cpu profile's cost is MACs (deterministic): its meta-graph does not depend on timing."""
    p = get_profile("cpu", search={"iterations": 2, "proxy_train": 48, "proxy_val": 24})
    proxy = synthetic_proxy(size=32)
    for d in ("a", "b"):
        search(p.space, p.rule, p.search, tmp_path / d, proxy=proxy, progress=False)
    assert (tmp_path / "a" / "metagraph.json").read_bytes() == (tmp_path / "b" / "metagraph.json").read_bytes()
    assert p.rule.cost == "log10_macs" and get_profile("paper").search.latency == "table"
