# Prints one line per bench_gpt JSON result read from stdin.
import json, sys
for l in sys.stdin:
    r = json.loads(l)
    print("%-22s %-5s stage %s %8.2f ms %9.0f tok/s peak %.1f GiB" % (r.get("label"), r.get("model", ""), r.get("stage"),
          r["step_ms"], r["tok_s_per_gpu"], r.get("peak_gib", 0)))
