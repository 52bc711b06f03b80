#!/usr/bin/env bash
# bench-cache.sh: what a re-audit from the verdict cache costs through the
# command, beside the cold audit of the same image and beside sealenv's own
# start (`sealenv version`: process start and package init, the floor of
# any sealenv command). Runs are interleaved (cold, re-audit, version, each
# RUNS times) so that the machine's load falls on all three alike; medians
# of wall time and of CPU time (user + system) are printed, with the load
# average before and after.
#
# The images are scripts/bench-audit.sh's gzip images (the Go tree without
# its .bz2 files, 66.6 MB compressed, 10 sealed values) as OCI layouts: one
# layer, and three copies of it in three layers.
#
#   scripts/bench-cache.sh                      # 5 rounds
#   RUNS=9 BENCH_DIR=/tmp/b scripts/bench-cache.sh
#   SEALENV_BEFORE=main~3 scripts/bench-cache.sh  # also that revision, in the same run
#
# Needs: go, python3.
set -euo pipefail
cd "$(dirname "$0")/.."

work=${BENCH_DIR:-$(mktemp -d)}
mkdir -p "$work"
runs=${RUNS:-5}

echo "building sealenv and the benchmark images in $work ..." >&2
go build -o "$work/sealenv" ./cmd/sealenv
bins=("$work/sealenv")
names=(after)
if [ -n "${SEALENV_BEFORE:-}" ]; then
	src=$(mktemp -d)
	git archive "$SEALENV_BEFORE" | tar -x -C "$src"
	(cd "$src" && go build -o "$work/sealenv-before" ./cmd/sealenv)
	rm -rf "$src"
	bins+=("$work/sealenv-before")
	names+=("before")
fi
go build -o "$work/benchimage" ./audit/internal/benchimage
for spec in "imggzx 1" "imggz3 3"; do
	set -- $spec
	[ -d "$work/$1/layout" ] || "$work/benchimage" build -dir "$work/$1" -copies "$2" -gzip -exclude .bz2
done

# measure.py runs the commands of a plan interleaved, RUNS rounds, and
# prints each row's median wall and CPU time (user + system, from the
# child's rusage: microseconds, where GNU time rounds to 10 ms). The audit
# exits 1 (the image holds planted secrets); any status is kept, the
# reports are checked below.
cat >"$work/measure.py" <<'EOF'
import os, shlex, statistics, subprocess, sys, time
runs, plan = int(sys.argv[1]), sys.argv[2]
rows = [line.rstrip("\n").split("\t") for line in open(plan) if line.strip()]
res = {r[0]: [] for r in rows}
for _ in range(runs):
    for key, setup, cmd in rows:
        if setup:
            subprocess.run(setup, shell=True, check=True)
        t0 = time.perf_counter()
        p = subprocess.Popen(shlex.split(cmd), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _, _, ru = os.wait4(p.pid, 0)
        res[key].append((time.perf_counter() - t0, ru.ru_utime + ru.ru_stime))
for key, _, _ in rows:
    v = res[key]
    print(key, statistics.median(x[0] for x in v), statistics.median(x[1] for x in v))
EOF

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
plan="$work/plan.tsv"
: >"$plan"
for img in imggzx imggz3; do
	d="$work/$img"
	for b in "${!bins[@]}"; do
		bin=${bins[$b]}
		tag="$work/$img.${names[$b]}"
		rm -rf "$tag.cache"
		args="audit image --identity $d/key.txt --bundle $d/bundle.env --format json"
		# One audit fills the cache the re-audits read.
		$bin $args -o /dev/null --cache "$tag.cache" "oci:$d/layout" || true
		printf '%s\t%s\t%s\n' "$img.${names[$b]}.cold" "rm -rf $tag.cold-cache" "$bin $args -o $tag.cold.json --cache $tag.cold-cache oci:$d/layout" >>"$plan"
		printf '%s\t\t%s\n' "$img.${names[$b]}.warm" "$bin $args -o $tag.warm.json --cache $tag.cache oci:$d/layout" >>"$plan"
		printf '%s\t\t%s\n' "$img.${names[$b]}.version" "$bin version" >>"$plan"
	done
done
python3 "$work/measure.py" "$runs" "$plan" >"$work/medians.txt"
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

echo
echo "verdict cache through the command: medians of $runs interleaved runs; $(nproc) CPUs, load $load_before before, $load_after after"
printf "%-8s %-7s %-28s %8s %8s %12s %12s\n" image binary what "wall s" "CPU s" "% cold wall" "% cold CPU"
for img in imggzx imggz3; do
	for b in "${!bins[@]}"; do
		python3 - "$img" "${names[$b]}" "$work" <<'EOF'
import json, sys
img, name, work = sys.argv[1:]
med = {}
for line in open(f"{work}/medians.txt"):
    k, w, c = line.split()
    med[k] = (float(w), float(c))
tag = f"{work}/{img}.{name}"
cold, warm, ver = (med[f"{img}.{name}.{k}"] for k in ("cold", "warm", "version"))
cached = json.load(open(f"{tag}.warm.json"))["coverage"].get("cached_layers", 0)
layers = json.load(open(f"{tag}.cold.json"))["coverage"].get("layers", 0)
for what, (w, c) in (("cold audit (empty cache)", cold), (f"re-audit ({cached} of {layers} layers cached)", warm), ("sealenv version (its start)", ver)):
    print(f"{img:<8} {name:<7} {what:<28} {w:8.3f} {c:8.3f} {100*w/cold[0]:11.1f}% {100*c/cold[1]:11.1f}%")
EOF
	done
done
