#!/usr/bin/env bash
# bench-audit.sh: sealenv audit against gitleaks, in one run, on the same
# image tarball: throughput, peak memory and recall of planted secrets.
#
# The image is the Go toolchain tree (real third-party files) as an
# uncompressed layer, with secrets planted in every place the audit
# searches (see audit/internal/benchimage); every secret is generated now
# and lives only in the work directory. A second image with three copies of
# the tree shows whether sealenv's memory stays flat as the image grows.
#
# Needs: go, GNU time (/usr/bin/time; Debian package "time"). gitleaks is
# installed from the Go module proxy when it is not on PATH.
#
#   scripts/bench-audit.sh            # work in a temporary directory
#   BENCH_DIR=/tmp/b scripts/bench-audit.sh
set -euo pipefail
cd "$(dirname "$0")/.."

work=${BENCH_DIR:-$(mktemp -d)}
mkdir -p "$work"
gitleaks_version=v8.30.1

if [ ! -x /usr/bin/time ]; then
	echo "bench-audit: needs GNU time at /usr/bin/time (apt-get install time)" >&2
	exit 2
fi
gitleaks=$(command -v gitleaks || true)
if [ -z "$gitleaks" ]; then
	gitleaks="$(go env GOPATH)/bin/gitleaks"
	[ -x "$gitleaks" ] || go install "github.com/zricethezav/gitleaks/v8@$gitleaks_version"
fi

echo "building sealenv and the benchmark images in $work ..." >&2
go build -o "$work/sealenv" ./cmd/sealenv
go build -o "$work/benchimage" ./audit/internal/benchimage
rm -rf "$work/img1" "$work/img3"
"$work/benchimage" build -dir "$work/img1" -copies 1
"$work/benchimage" build -dir "$work/img3" -copies 3

# run NAME CMD...: runs CMD under GNU time; prints "wall cpu rss_kb".
run() {
	local out=$1
	shift
	/usr/bin/time -f "%e %U %S %M" -o "$out.time" "$@" >"$out.stdout" 2>"$out.stderr" || true
	awk '{printf "%s %.2f %s\n", $1, $2+$3, $4}' "$out.time" | tail -1
}

mb() { awk -v b="$(stat -c %s "$1")" 'BEGIN {printf "%.1f", b/1e6}'; }

row() { # tool image wall cpu rss recall
	awk -v t="$1" -v mb="$2" -v w="$3" -v c="$4" -v r="$5" -v rec="$6" 'BEGIN {
		printf "%-10s %9.1f %8.2f %8.2f %10.0f %12.0f %9.1f   %s\n", t, mb, w, c, mb/w, mb/c, r/1024, rec }'
}

img1="$work/img1"
img3="$work/img3"
read -r se_wall se_cpu se_rss < <(run "$work/se1" "$work/sealenv" audit image --identity "$img1/key.txt" --bundle "$img1/bundle.env" --format json -o "$work/se1.json" "docker-archive:$img1/image.tar")
read -r se3_wall se3_cpu se3_rss < <(run "$work/se3" "$work/sealenv" audit image --identity "$img3/key.txt" --bundle "$img3/bundle.env" --format json -o "$work/se3.json" "docker-archive:$img3/image.tar")
read -r gl_wall gl_cpu gl_rss < <(run "$work/gl1" "$gitleaks" dir --no-banner --max-archive-depth 8 --report-format json --report-path "$work/gl1.json" "$img1/image.tar")

"$work/benchimage" score -dir "$img1" -sealenv "$work/se1.json" -gitleaks "$work/gl1.json" >"$work/score.txt"
se_recall=$(sed -n 's/^recall: sealenv \([0-9]*\/[0-9]*\).*/\1/p' "$work/score.txt")
gl_recall=$(sed -n 's/.*gitleaks \([0-9]*\/[0-9]*\)$/\1/p' "$work/score.txt")
gl_findings=$(python3 -c "import json,sys; print(len(json.load(open(sys.argv[1]))))" "$work/gl1.json" 2>/dev/null || echo "?")
se_findings=$(grep -c '"kind"' "$work/se1.json" || true)

echo
echo "image: $(mb "$img1/image.tar") MB docker-archive (Go $(go env GOVERSION) tree, uncompressed layer, 16 planted secrets); $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
printf "%-10s %9s %8s %8s %10s %12s %9s   %s\n" tool "image MB" "wall s" "CPU s" "MB/s wall" "MB/s per CPU" "RSS MiB" "recall"
row sealenv "$(mb "$img1/image.tar")" "$se_wall" "$se_cpu" "$se_rss" "$se_recall ($se_findings findings)"
row gitleaks "$(mb "$img1/image.tar")" "$gl_wall" "$gl_cpu" "$gl_rss" "$gl_recall ($gl_findings findings)"
row "sealenv 3x" "$(mb "$img3/image.tar")" "$se3_wall" "$se3_cpu" "$se3_rss" "(memory flatness: same tool, 3x the image)"
awk -v a="$se_wall" -v b="$gl_wall" 'BEGIN {printf "sealenv is %.0fx faster than gitleaks (wall clock)\n", b/a}'
echo
cat "$work/score.txt"
echo
echo "detector throughput (Go benchmarks, MB/s of uncompressed data, one core):"
go test -run '^$' -bench 'BenchmarkScan|BenchmarkLayer' -benchtime 5x ./audit/ | awk '/^Benchmark/ {print "  " $1, $(NF-1), $NF}'
