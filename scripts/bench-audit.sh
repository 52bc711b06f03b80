#!/usr/bin/env bash
# bench-audit.sh: sealenv audit against gitleaks, in one run, on the same
# image tarball: throughput, peak memory and recall of planted secrets,
# sealenv keyed (with the identity) and keyless (--no-identity: the same
# values searched by their fingerprints) side by side.
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
# The decoders the audit uses for xz, bzip2 and zstd members are timed
# beside `xz -dc`, `bzip2 -dc` and `zstd -dc` on the same bytes
# (BenchmarkDecoders; needs xz, bzip2 and zstd).
#
# A second part measures a gzip layer: sealenv against `gzip -dc` alone on
# the same layer blob (the audit decompresses on one core and searches on
# another, so it should keep up), and an image of three gzip layers with
# --jobs 1 and --jobs 2 (layers are read in parallel: it should scale with
# cores).
#
#   scripts/bench-audit.sh            # work in a temporary directory
#   BENCH_DIR=/tmp/b scripts/bench-audit.sh
#   SEALENV_BEFORE=main~3 scripts/bench-audit.sh   # also time sealenv built
#                                     # from that git revision, in the same run
#   SEALENV_BENCH_BIG=1 scripts/bench-audit.sh      # also the memory bound: a
#                                     # 2.2 GB image of 63 layers (9 copies of the
#                                     # tree over 60 layers, as an OCI layout)
#                                     # audited with --jobs 1, 2 and 4 (needs
#                                     # about 5 GB of disk and several minutes)
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
before=""
if [ -n "${SEALENV_BEFORE:-}" ]; then
	src=$(mktemp -d)
	git archive "$SEALENV_BEFORE" | tar -x -C "$src"
	(cd "$src" && go build -o "$work/sealenv-before" ./cmd/sealenv)
	rm -rf "$src"
	before="$work/sealenv-before"
fi
go build -o "$work/benchimage" ./audit/internal/benchimage
rm -rf "$work/img1" "$work/img3"
"$work/benchimage" build -dir "$work/img1" -copies 1
"$work/benchimage" build -dir "$work/img3" -copies 3
rm -rf "$work/imggz" "$work/imggzx" "$work/imggz3"
"$work/benchimage" build -dir "$work/imggz" -copies 1 -gzip
# Without the tree's bzip2 test data (428 KB that decodes to 64 MB at Go's
# bzip2 speed), the gzip layer and the multi-layer scaling are measured
# rather than one bzip2 file.
"$work/benchimage" build -dir "$work/imggzx" -copies 1 -gzip -exclude .bz2
"$work/benchimage" build -dir "$work/imggz3" -copies 3 -gzip -exclude .bz2

# run NAME CMD...: runs CMD under GNU time; prints "wall cpu rss_kb".
# Each run gets an empty verdict cache of its own (sealenv's default is
# $XDG_CACHE_HOME/sealenv/audit): an audit of an image another run audited
# must search it again. The cache is measured apart, at the end.
rm -rf "$work/verdicts"
run() {
	local out=$1
	shift
	rm -rf "$out.cache"
	XDG_CACHE_HOME="$out.cache" /usr/bin/time -f "%e %U %S %M" -o "$out.time" "$@" >"$out.stdout" 2>"$out.stderr" || true
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
# The same sealed values searched keyless: by their fingerprints, with no
# identity (docs/audit.md, "Known values without an identity").
read -r sk_wall sk_cpu sk_rss < <(run "$work/sk1" "$work/sealenv" audit image --no-identity --bundle "$img1/bundle.env" --format json -o "$work/sk1.json" "docker-archive:$img1/image.tar")
read -r gl_wall gl_cpu gl_rss < <(run "$work/gl1" "$gitleaks" dir --no-banner --max-archive-depth 8 --report-format json --report-path "$work/gl1.json" "$img1/image.tar")

"$work/benchimage" score -dir "$img1" -sealenv "$work/se1.json" -gitleaks "$work/gl1.json" >"$work/score.txt"
se_recall=$(sed -n 's/^recall: sealenv \([0-9]*\/[0-9]*\).*/\1/p' "$work/score.txt")
gl_recall=$(sed -n 's/.*gitleaks \([0-9]*\/[0-9]*\)$/\1/p' "$work/score.txt")
gl_findings=$(python3 -c "import json,sys; print(len(json.load(open(sys.argv[1]))))" "$work/gl1.json" 2>/dev/null || echo "?")
se_findings=$(grep -c '"kind"' "$work/se1.json" || true)
"$work/benchimage" score -dir "$img1" -sealenv "$work/sk1.json" -gitleaks "$work/gl1.json" >"$work/score-keyless.txt"
sk_recall=$(sed -n 's/^recall: sealenv \([0-9]*\/[0-9]*\).*/\1/p' "$work/score-keyless.txt")
sk_findings=$(grep -c '"kind"' "$work/sk1.json" || true)

echo
echo "image: $(mb "$img1/image.tar") MB docker-archive (Go $(go env GOVERSION) tree, uncompressed layer, 16 planted secrets); $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
printf "%-10s %9s %8s %8s %10s %12s %9s   %s\n" tool "image MB" "wall s" "CPU s" "MB/s wall" "MB/s per CPU" "RSS MiB" "recall"
row sealenv "$(mb "$img1/image.tar")" "$se_wall" "$se_cpu" "$se_rss" "$se_recall ($se_findings findings)"
row keyless "$(mb "$img1/image.tar")" "$sk_wall" "$sk_cpu" "$sk_rss" "$sk_recall ($sk_findings findings; sealenv --no-identity, by fingerprint)"
row gitleaks "$(mb "$img1/image.tar")" "$gl_wall" "$gl_cpu" "$gl_rss" "$gl_recall ($gl_findings findings)"
row "sealenv 3x" "$(mb "$img3/image.tar")" "$se3_wall" "$se3_cpu" "$se3_rss" "(memory flatness: same tool, 3x the image)"
awk -v a="$se_wall" -v b="$gl_wall" 'BEGIN {printf "sealenv is %.0fx faster than gitleaks (wall clock)\n", b/a}'
awk -v k="$sk_cpu" -v s="$se_cpu" 'BEGIN {printf "keyless takes %.2fx the CPU time of keyed, same values (target: at most 1.5x)\n", k/s}'
echo
cat "$work/score.txt"
echo
echo "detector throughput (Go benchmarks, MB/s of uncompressed data, one core):"
go test -run '^$' -bench 'BenchmarkScan|BenchmarkLayer' -benchtime 5x ./audit/ | awk '/^Benchmark/ {print "  " $1, $(NF-1), $NF}'
echo "fingerprint search, keyless beside keyed (8 MiB, 100 values), and as values grow (set memory per value, allocations per search):"
go test -run '^$' -bench 'BenchmarkSearch' -benchtime 3x ./internal/fingerprint/ | awk '/^Benchmark/ {$2=""; print "  " $0}'

echo "decoders (BenchmarkDecoders): what the audit decodes an xz, bzip2 or zstd member with, beside the"
echo "command-line tool on the same bytes (12 MB of the Go tree compressed now, and the tree's own re2 .bz2),"
echo "MB/s of decoded output by wall clock and per CPU-second (the steadier figure on a shared machine):"
go test -run '^$' -bench 'BenchmarkDecoders' -benchtime 3x ./audit/ | awk '
	/^BenchmarkDecoders\// {
		n = split($1, p, "/"); who = p[n]; sub(/-[0-9]+$/, "", who)
		c = p[2]; for (i = 3; i < n; i++) c = c "/" p[i]; gsub(/_/, " ", c)
		for (i = 2; i < NF; i++) { if ($(i+1) == "MB/s") w[c, who] = $i; if ($(i+1) == "MB/cpu-s") u[c, who] = $i }
		if (!(c in seen)) { seen[c] = 1; order[++k] = c }
	}
	END {
		printf "  %-32s %14s %12s %18s %16s\n", "input", "sealenv MB/s", "tool MB/s", "sealenv MB/cpu-s", "tool MB/cpu-s"
		for (j = 1; j <= k; j++) { c = order[j]
			printf "  %-32s %14s %12s %18s %16s\n", c, w[c, "sealenv"], w[c, "tool"], u[c, "sealenv"], u[c, "tool"] }
	}'

# auditargs DIR: the arguments of a sealenv audit of that benchmark image.
auditargs() { echo audit image --identity "$1/key.txt" --bundle "$1/bundle.env" --format json -o /dev/null "docker-archive:$1/image.tar"; }

# The Go-tree layer of the gzip image, alone, for gzip -dc.
layer=$(tar -xOf "$work/imggzx/image.tar" manifest.json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["Layers"][0])')
tar -xOf "$work/imggzx/image.tar" "$layer" >"$work/gotree.tar.gz"
read -r gz_wall gz_cpu gz_rss < <(run "$work/gzipdc" sh -c "gzip -dc '$work/gotree.tar.gz' >/dev/null")
read -r zg_wall zg_cpu zg_rss < <(run "$work/zg1" "$work/sealenv" $(auditargs "$work/imggzx" | sed "s#-o /dev/null#-o $work/zg1.json#"))
read -r zf_wall zf_cpu zf_rss < <(run "$work/zf1" "$work/sealenv" $(auditargs "$work/imggz"))
read -r j1_wall j1_cpu j1_rss < <(run "$work/j1" "$work/sealenv" $(auditargs "$work/imggz3") --jobs 1)
read -r j2_wall j2_cpu j2_rss < <(run "$work/j2" "$work/sealenv" $(auditargs "$work/imggz3") --jobs 2)
echo
echo "gzip layer: $(mb "$work/gotree.tar.gz") MB compressed, the Go tree without its .bz2 files; image of 3 such layers: $(mb "$work/imggz3/image.tar") MB"
printf "%-34s %8s %8s %9s\n" what "wall s" "CPU s" "RSS MiB"
gzrow() { awk -v t="$1" -v w="$2" -v c="$3" -v r="$4" 'BEGIN { printf "%-34s %8.2f %8.2f %9.1f\n", t, w, c, r/1024 }'; }
gzrow "gzip -dc, the layer alone" "$gz_wall" "$gz_cpu" "$gz_rss"
gzrow "sealenv audit, 1 gzip layer" "$zg_wall" "$zg_cpu" "$zg_rss"
gzrow "the same with the .bz2 files" "$zf_wall" "$zf_cpu" "$zf_rss"
gzrow "sealenv audit, 3 layers, --jobs 1" "$j1_wall" "$j1_cpu" "$j1_rss"
gzrow "sealenv audit, 3 layers, --jobs 2" "$j2_wall" "$j2_cpu" "$j2_rss"
if [ -n "$before" ]; then
	read -r b1_wall b1_cpu b1_rss < <(run "$work/b1" "$before" audit image --identity "$img1/key.txt" --bundle "$img1/bundle.env" --format json -o "$work/b1.json" "docker-archive:$img1/image.tar")
	read -r bg_wall bg_cpu bg_rss < <(run "$work/bg" "$before" $(auditargs "$work/imggzx"))
	read -r bj2_wall bj2_cpu bj2_rss < <(run "$work/bj2" "$before" $(auditargs "$work/imggz3") --jobs 2)
	gzrow "before ($SEALENV_BEFORE), uncompressed image" "$b1_wall" "$b1_cpu" "$b1_rss"
	gzrow "after, uncompressed image" "$se_wall" "$se_cpu" "$se_rss"
	gzrow "before, 1 gzip layer" "$bg_wall" "$bg_cpu" "$bg_rss"
	gzrow "before, 3 layers, --jobs 2" "$bj2_wall" "$bj2_cpu" "$bj2_rss"
fi
awk -v a="$zg_wall" -v g="$gz_wall" -v j1="$j1_wall" -v j2="$j2_wall" 'BEGIN {
	printf "one gzip layer: sealenv takes %.2fx the time of gzip -dc alone; 3 layers: --jobs 2 is %.2fx faster than --jobs 1\n", a/g, j1/j2 }'
# Searched bytes per second (the layer as stored and decoded, and what the
# walk opened inside it: the report's coverage.bytes) against the rate at
# which gzip -dc writes the decoded layer: the fastest of ROUNDS (default
# 3) runs of each, one after the other (load on a shared machine only ever
# slows a run down).
decoded=$(gzip -dc "$work/gotree.tar.gz" | wc -c)
searched=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["coverage"]["bytes"])' "$work/zg1.json")
best_gz=$gz_wall
best_zg=$zg_wall
for _ in $(seq 2 "${ROUNDS:-3}"); do
	read -r w _ _ < <(run "$work/gzipdc" sh -c "gzip -dc '$work/gotree.tar.gz' >/dev/null")
	best_gz=$(awk -v a="$best_gz" -v b="$w" 'BEGIN {print (b < a) ? b : a}')
	read -r w _ _ < <(run "$work/zgr" "$work/sealenv" $(auditargs "$work/imggzx"))
	best_zg=$(awk -v a="$best_zg" -v b="$w" 'BEGIN {print (b < a) ? b : a}')
done
awk -v s="$searched" -v d="$decoded" -v a="$best_zg" -v g="$best_gz" -v n="${ROUNDS:-3}" 'BEGIN {
	printf "one gzip layer, fastest of %d: sealenv searches %.0f MB/s (%.0f MB searched) in %.2f s, gzip -dc writes %.0f MB/s (%.0f MB) in %.2f s: %.2fx (target: at least 1.5x)\n", n, s/a/1e6, s/1e6, a, d/g/1e6, d/1e6, g, (s/a)/(d/g) }'

# The verdict cache: the gzip image (oci: layout, whose blobs are named by
# digest) audited cold into an empty cache, then again from it.
cacheargs() { echo audit image --identity "$1/key.txt" --bundle "$1/bundle.env" --format json -o "$2" --cache "$work/verdicts" "oci:$1/layout"; }
read -r nc_wall nc_cpu nc_rss < <(run "$work/nc" "$work/sealenv" $(cacheargs "$work/imggzx" "$work/nc.json") )
read -r wc_wall wc_cpu wc_rss < <(run "$work/wc" "$work/sealenv" $(cacheargs "$work/imggzx" "$work/wc.json") )
# sealenv's own start (process start and package init), the floor of any
# sealenv command: most of what a re-audit costs (see docs/audit.md,
# "Performance"; scripts/bench-cache.sh times all three over several runs).
read -r sv_wall sv_cpu sv_rss < <(run "$work/sv" "$work/sealenv" version)
echo
echo "verdict cache, the gzip image as an OCI layout (oci:), the same sealed values and rules:"
gzrow "cold audit (empty cache)" "$nc_wall" "$nc_cpu" "$nc_rss"
gzrow "re-audit (every layer cached)" "$wc_wall" "$wc_cpu" "$wc_rss"
gzrow "sealenv version (its start)" "$sv_wall" "$sv_cpu" "$sv_rss"
cached=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["coverage"].get("cached_layers", 0))' "$work/wc.json")
awk -v c="$nc_wall" -v w="$wc_wall" -v n="$cached" 'BEGIN {
	printf "re-audit: %d layers from the cache; %.1f%% of the cold audit'"'"'s time (target: under 5%%)\n", n, 100*w/c }'

# The memory bound: a 2.2 GB image of 63 layers, audited with no cache at
# --jobs 1, 2 and 4; peak RSS should grow with --jobs, not with the image.
if [ -n "${SEALENV_BENCH_BIG:-}" ]; then
	rm -rf "$work/imgbig"
	"$work/benchimage" build -dir "$work/imgbig" -copies 9 -layers 60 -no-archive
	echo
	echo "memory: $(du -sm "$work/imgbig/layout" | cut -f1) MB OCI layout, $(python3 -c 'import json,sys,os; d=sys.argv[1]; i=json.load(open(d+"/index.json")); m=json.load(open(d+"/blobs/sha256/"+i["manifests"][0]["digest"][7:])); print(len(m["layers"]))' "$work/imgbig/layout") layers, no cache:"
	printf "%-34s %8s %8s %9s %10s  %s\n" what "wall s" "CPU s" "RSS MiB" "searched GB" complete
	for j in 1 2 4; do
		read -r bw bc br < <(run "$work/big$j" "$work/sealenv" audit image --no-cache --jobs "$j" --identity "$work/imgbig/key.txt" --bundle "$work/imgbig/bundle.env" --format json -o "$work/big$j.json" "oci:$work/imgbig/layout")
		read -r gb complete < <(python3 -c 'import json,sys; c=json.load(open(sys.argv[1]))["coverage"]; print("%.2f" % (c["bytes"]/1e9), c["complete"])' "$work/big$j.json")
		awk -v t="sealenv audit, --jobs $j" -v w="$bw" -v c="$bc" -v r="$br" -v g="$gb" -v k="$complete" 'BEGIN { printf "%-34s %8.2f %8.2f %9.1f %10s  %s\n", t, w, c, r/1024, g, k }'
	done
	rm -rf "$work/imgbig"
fi
