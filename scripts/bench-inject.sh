#!/usr/bin/env bash
# bench-inject.sh: the injector's performance figures, side by side, in one run.
#
#   slim binary size (static, stripped; target <= 4 MiB)
#   start of /bin/true: direct, through a Go program that only execs (the
#     floor of any Go entrypoint), through the same program linking the
#     injector's packages (go-floor-deps: what their dependencies' start
#     costs), through sealenv-inject on a 50-key bundle,
#     through `sops exec-env` and `dotenvx run` when installed
#     (targets: <= 3 ms over direct exec; >= 10x faster than sops exec-env)
#   redaction throughput with 100 sealed values (target >= 1 GB/s)
#   the start against the Go floor, fastest of RUNS with hyperfine (-N, no
#     shell) in ROUNDS rounds: /bin/true, the floor programs (built here) and
#     sealenv-inject on the same 50-key bundle, identity from a file; the
#     ratio sealenv-inject / floor (target <= 1.5x), and the same for the
#     time each adds to /bin/true
#
# Usage: scripts/bench-inject.sh [STARTS]   (STARTS per command, default 200)
#   RUNS (default 60) and ROUNDS (default 3) tune the hyperfine comparison;
#   the fastest of all ROUNDS x RUNS starts counts (a shared machine's load
#   only ever slows a start down).
#   SEALENV_BEFORE=REV (a git revision, e.g. main) or SEALENV_BEFORE=FILE (a
#   built sealenv-inject) adds that injector to every hyperfine round, run
#   alternately with this tree's on the same fixture, and prints both
#   ratios: a before/after comparison in the same conditions.
#
# Needs: go. Optional: hyperfine (apt-get install hyperfine; without it the
# ratio comes from BenchmarkStart's fastest start), sops on PATH (or
# /root/go/bin/sops), dotenvx (npm i -g @dotenvx/dotenvx). Keys and bundles
# are generated for the run in a memory-backed directory when /dev/shm
# exists, and removed at the end.
set -euo pipefail

starts=${1:-200}
runs=${RUNS:-60}
rounds=${ROUNDS:-3}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

base=/tmp
[ -d /dev/shm ] && [ -w /dev/shm ] && base=/dev/shm
work=$(mktemp -d "$base/bench-inject.XXXXXX")
trap 'rm -rf "$work"' EXIT
export TMPDIR=$work

if ! command -v sops >/dev/null 2>&1 && [ -x "$HOME/go/bin/sops" ]; then
	PATH=$PATH:$HOME/go/bin
fi
if ! command -v sops >/dev/null 2>&1 && [ -x /root/go/bin/sops ]; then
	PATH=$PATH:/root/go/bin
fi

bin=$work/sealenv-inject
CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$bin" ./cmd/sealenv-inject
size=$(stat -c %s "$bin")

# The injector to compare with, built from a revision or given as a file.
before=
if [ -n "${SEALENV_BEFORE:-}" ]; then
	if [ -f "$SEALENV_BEFORE" ]; then
		before=$SEALENV_BEFORE
	else
		rev=$(git rev-parse --verify --quiet "$SEALENV_BEFORE^{commit}") || {
			echo "bench-inject.sh: SEALENV_BEFORE=$SEALENV_BEFORE: neither a file nor a git revision" >&2
			exit 2
		}
		mkdir -p "$work/before-src"
		git archive "$rev" | tar -x -C "$work/before-src"
		before=$work/sealenv-inject-before
		(cd "$work/before-src" && CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$before" ./cmd/sealenv-inject)
		rm -rf "$work/before-src"
	fi
fi
linkage=static
if command -v file >/dev/null 2>&1 && file "$bin" | grep -q 'dynamically linked'; then
	linkage=DYNAMIC
fi

# The floor comparison: fastest of ROUNDS x RUNS, one hyperfine run per
# round so that a burst of load on a shared machine slows one round, not
# one command.
floor_out=$work/floor.csv
fixture=$work/fixture
mkdir -p "$fixture"
if command -v hyperfine >/dev/null 2>&1; then
	SEALENV_BENCH_FIXTURE=$fixture go test -count=1 -run '^TestStartFixture$' ./cmd/sealenv-inject >"$work/fixture.txt" 2>&1 || {
		cat "$work/fixture.txt" >&2
		exit 1
	}
	true_bin=$(type -P true)
	for round in $(seq "$rounds"); do
		compare=()
		if [ -n "$before" ]; then
			compare=(-n before "$before --bundle $fixture/bench.env -- $true_bin")
		fi
		SEALENV_AGE_KEY_FILE=$fixture/key.txt hyperfine -N --style none --warmup 10 --runs "$runs" \
			--export-csv "$work/round$round.csv" \
			-n direct "$true_bin" \
			-n go-floor "$fixture/goexec $true_bin" \
			-n go-floor-deps "$fixture/goexecdeps $true_bin" \
			-n sealenv-inject "$bin --bundle $fixture/bench.env -- $true_bin" \
			"${compare[@]}" >/dev/null 2>"$work/hyperfine.txt" || {
			cat "$work/hyperfine.txt" >&2
			exit 1
		}
		tail -n +2 "$work/round$round.csv" >>"$floor_out"
	done
fi

start_out=$work/start.txt
redact_out=$work/redact.txt
# dotenvx takes over a second a start: 10 starts say enough about it.
for spec in "/(direct|go-floor|go-floor-deps|sealenv-inject|sops-exec-env)\$ ${starts}" "/dotenvx-run\$ 10"; do
	set -- $spec
	SEALENV_INJECT_BIN=$bin go test -run '^$' -bench "^BenchmarkStart\$$1" -benchtime="$2x" ./cmd/sealenv-inject >>"$start_out" 2>&1 || {
		cat "$start_out" >&2
		exit 1
	}
done
go test -run '^$' -bench '^BenchmarkRedact' -benchtime=2s ./inject >"$redact_out" 2>&1 || {
	cat "$redact_out" >&2
	exit 1
}

echo "sealenv-inject benchmarks ($(go version | awk '{print $3}'), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg))"
echo
awk -v size="$size" -v linkage="$linkage" 'BEGIN {
	mib = size / 1048576
	printf "%-34s %10.2f MiB  (%d bytes, %s)  target <= 4 MiB: %s\n", "slim binary, stripped", mib, size, linkage, (mib <= 4 ? "met" : "NOT MET")
}'
echo
awk '
/^BenchmarkStart\// {
	name = $1; sub(/^BenchmarkStart\//, "", name); sub(/-[0-9]+$/, "", name)
	wall[name] = $3 / 1e6
	for (i = 4; i <= NF; i++) if ($(i) == "cpu-ns/op") cpu[name] = $(i-1) / 1e6
	order[++n] = name
}
/--- SKIP: BenchmarkStart\// {
	name = $3; sub(/^BenchmarkStart\//, "", name); skipped[name] = 1
}
END {
	printf "%-34s %10s %10s %14s %14s\n", "start of /bin/true (50-key bundle)", "wall ms", "cpu ms", "over direct", "vs sealenv"
	d = wall["direct"]; s = wall["sealenv-inject"]
	for (i = 1; i <= n; i++) {
		k = order[i]
		ratio = (k == "sealenv-inject" || s == 0) ? "" : sprintf("%.1fx", wall[k] / s)
		printf "%-34s %10.2f %10.2f %11.2f ms %14s\n", k, wall[k], cpu[k], wall[k] - d, ratio
	}
	for (k in skipped) printf "%-34s %10s\n", k, "skipped (not installed)"
	if (s > 0) {
		printf "\nstart overhead over direct exec: %.2f ms wall, %.2f ms cpu (target <= 3 ms): %s\n", s - d, cpu["sealenv-inject"] - cpu["direct"], (s - d <= 3 ? "met" : "NOT MET")
		printf "of which any Go entrypoint pays:  %.2f ms wall (go-floor - direct)\n", wall["go-floor"] - d
		if ("sops-exec-env" in wall) printf "sops exec-env / sealenv-inject:   %.1fx (target >= 10x): %s\n", wall["sops-exec-env"] / s, (wall["sops-exec-env"] / s >= 10 ? "met" : "NOT MET")
	}
}' "$start_out"
echo
awk '
/^BenchmarkRedact/ {
	name = $1; sub(/-[0-9]+$/, "", name)
	for (i = 1; i <= NF; i++) if ($(i) == "MB/s") mbs = $(i-1)
	printf "%-34s %10.2f GB/s  %s\n", name, mbs / 1000, (name == "BenchmarkRedact" ? (mbs >= 1000 ? "target >= 1 GB/s: met" : "target >= 1 GB/s: NOT MET") : "")
}' "$redact_out"
echo
if [ -s "$floor_out" ]; then
	echo "start of /bin/true against the Go floor: hyperfine $(hyperfine --version | awk '{print $2}'), fastest of $rounds x $runs starts"
	# hyperfine's CSV: command,mean,stddev,median,user,system,min,max (seconds)
	awk -F, '
	{
		n = $1
		if (!(n in min) || $7 < min[n]) min[n] = $7
		if (!(n in med) || $4 < med[n]) med[n] = $4
	}
	END { report() }
	function report() {
		printf "%-34s %10s %14s\n", "", "fastest ms", "best median ms"
		split("direct go-floor go-floor-deps sealenv-inject before", order, " ")
		for (i = 1; i <= 5; i++) if (order[i] in min) printf "%-34s %10.2f %14.2f\n", order[i], min[order[i]] * 1e3, med[order[i]] * 1e3
		ratio("sealenv-inject", min["sealenv-inject"], min["go-floor"], min["direct"])
		f = min["go-floor"]
		printf "in units of the floor: linking the dependencies adds %.2fx (go-floor-deps / go-floor - 1), the injector work %.2fx ((sealenv-inject - go-floor-deps) / go-floor)\n", min["go-floor-deps"] / f - 1, (min["sealenv-inject"] - min["go-floor-deps"]) / f
		if ("before" in min) {
			ratio("before", min["before"], min["go-floor"], min["direct"])
			printf "\nsealenv-inject / before:            %.2fx fastest, %.2fx best median\n", min["sealenv-inject"] / min["before"], med["sealenv-inject"] / med["before"]
		}
	}
	function ratio(name, s, f, d) {
		printf "\n%-35s %.2fx (target <= 1.5x): %s\n", name " / go-floor:", s / f, (s / f <= 1.5 ? "met" : "NOT MET")
		printf "the same, over /bin/true alone:     %.2fx (%.2f ms vs %.2f ms added to a direct exec)\n", (s - d) / (f - d), (s - d) * 1e3, (f - d) * 1e3
	}' "$floor_out"
else
	echo "start of /bin/true against the Go floor: hyperfine not installed (apt-get install hyperfine); fastest of $starts BenchmarkStart starts"
	awk '
	/^BenchmarkStart\// {
		name = $1; sub(/^BenchmarkStart\//, "", name); sub(/-[0-9]+$/, "", name)
		for (i = 4; i <= NF; i++) if ($(i) == "fastest-ns") min[name] = $(i-1) / 1e9
	}
	END {
		s = min["sealenv-inject"]; f = min["go-floor"]; d = min["direct"]
		for (k in min) printf "%-34s %10.2f ms\n", k, min[k] * 1e3
		if (s > 0 && f > 0) {
			printf "\nsealenv-inject / go-floor:          %.2fx (target <= 1.5x): %s\n", s / f, (s / f <= 1.5 ? "met" : "NOT MET")
			printf "the same, over /bin/true alone:     %.2fx (%.2f ms vs %.2f ms added to a direct exec)\n", (s - d) / (f - d), (s - d) * 1e3, (f - d) * 1e3
		}
	}' "$start_out"
fi
