"""The soak inside `make test`: 60 seconds at 128 streams (`make soak` runs the 10-minute,
256-stream version) and a 12-second crash drill. Passes when soak.py finds nothing: every answer
equal to its reference run alone, every outcome one its behaviour allows, no deadline overrun,
the daemon's counts equal to the driver's and its access log's, memory and threads flat, every KV
block free at the end, ribbond draining cleanly, and the drill's clients recovering."""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import soak  # noqa: E402


def test_soak_60_seconds(tmp_path):
    code = soak.main(["--seconds", "60", "--streams", "128", "--pool", "64", "--burst", "200",
                      "--burst-every", "20", "--drill-seconds", "12", "--drill-streams", "32",
                      "--out", str(tmp_path)])
    with open(tmp_path / "report.json") as f:
        report = json.load(f)
    soaked = report["soak"]
    print(json.dumps({"by_code": soaked["records"]["by_code"], "windows": soaked["windows"],
                      "resources": soaked["resources"]}, indent=1))
    assert report["failures"] == [] and code == 0
    assert soaked["records"]["checked_ok"] > 0 and soaked["oom_recoveries"] > 0
