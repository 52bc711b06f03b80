package audit

import (
	"archive/zip"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeTree writes files under dir.
func writeTree(t testing.TB, dir string, files ...file) {
	t.Helper()
	for _, f := range files {
		p := filepath.Join(dir, filepath.FromSlash(f.name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, f.data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// debPackage builds a .deb with dpkg-deb from files under /etc/demo,
// its data.tar compressed with comp (gzip, xz, zstd, none).
func debPackage(t *testing.T, comp string, body []byte) []byte {
	dir := t.TempDir()
	root := filepath.Join(dir, "pkg")
	writeTree(t, root,
		file{"DEBIAN/control", []byte("Package: demo\nVersion: 1.0\nArchitecture: all\nMaintainer: Demo <demo@example.com>\nDescription: demo package\n")},
		file{"etc/demo/app.env", body},
		file{"usr/share/doc/demo/README", text(20<<10, 6)},
	)
	runTool(t, dir, nil, nil, "dpkg-deb", "--root-owner-group", "-Z"+comp, "--build", "pkg", "demo.deb")
	b, err := os.ReadFile(filepath.Join(dir, "demo.deb"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// rpmPackage builds an .rpm with rpmbuild, its payload compressed as
// payload says (%_binary_payload: w9.gzdio, w6.xzdio, w19.zstdio,
// w9.bzdio).
func rpmPackage(t *testing.T, payload string, body []byte) []byte {
	dir := t.TempDir()
	writeTree(t, dir,
		file{"SOURCES/app.env", body},
		file{"SPECS/demo.spec", []byte(`Name: demo
Version: 1.0
Release: 1
Summary: demo
License: MIT
BuildArch: noarch
%description
A package with a settings file.
%install
mkdir -p %{buildroot}/etc/demo
cp %{_sourcedir}/app.env %{buildroot}/etc/demo/app.env
%files
/etc/demo/app.env
`)},
	)
	runTool(t, dir, nil, []string{"HOME=" + dir}, "rpmbuild", "-bb", "--quiet",
		"--define", "_topdir "+dir, "--define", "_binary_payload "+payload, "--define", "_build_id_links none",
		filepath.Join(dir, "SPECS", "demo.spec"))
	b, err := os.ReadFile(filepath.Join(dir, "RPMS", "noarch", "demo-1.0-1.noarch.rpm"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Packages made by the real tools: a .deb (dpkg-deb, each data.tar
// compression) and an .rpm (rpmbuild, each payload compressor) holding a
// settings file with both secrets are found inside the package's
// payload; their clean twins are clean.
func TestPackages(t *testing.T) {
	t.Parallel()
	p := plantSecrets(t)
	comps := []string{"gzip", "xz", "zstd", "none"}
	payloads := []string{"w9.gzdio", "w6.xzdio", "w19.zstdio", "w9.bzdio", "w7.lzdio", "w.ufdio"}
	if testing.Short() {
		// The lighter twin: one package of each kind, gzip-compressed,
		// with the same assertions; the payloads' other compressions
		// run without -short.
		comps, payloads = comps[:1], payloads[:1]
	}
	for _, comp := range comps {
		t.Run("deb "+comp, func(t *testing.T) {
			t.Parallel()
			p.wantBoth(t, auditFiles(t, p.opts, file{"var/cache/apt/archives/demo.deb", debPackage(t, comp, p.env())}), "var/cache/apt/archives/demo.deb!/data.tar")
			wantClean(t, auditFiles(t, p.opts, file{"var/cache/apt/archives/demo.deb", debPackage(t, comp, cleanBody())}))
		})
	}
	for _, payload := range payloads {
		t.Run("rpm "+payload, func(t *testing.T) {
			t.Parallel()
			r := auditFiles(t, p.opts, file{"tmp/demo.rpm", rpmPackage(t, payload, p.env())})
			p.wantBoth(t, r, "tmp/demo.rpm!/etc/demo/app.env")
			wantClean(t, auditFiles(t, p.opts, file{"tmp/demo.rpm", rpmPackage(t, payload, cleanBody())}))
		})
	}
}

// cpio archives as cpio(1) writes them (newc, as rpm payloads and the
// kernel's initramfs carry them; odc), and an initramfs made of an
// uncompressed cpio followed by a gzip of another.
func TestCpio(t *testing.T) {
	t.Parallel()
	p := plantSecrets(t)
	mk := func(format string, body []byte) []byte {
		dir := t.TempDir()
		writeTree(t, dir, file{"etc/app.env", body}, file{"bin/readme", text(10<<10, 7)})
		return runTool(t, dir, []byte("etc\netc/app.env\nbin\nbin/readme\n"), nil, "cpio", "--quiet", "-o", "-H", format)
	}
	for _, format := range []string{"newc", "crc", "odc"} {
		t.Run(format, func(t *testing.T) {
			p.wantBoth(t, auditFiles(t, p.opts, file{"boot/root.cpio", mk(format, p.env())}), "boot/root.cpio!/etc/app.env")
			wantClean(t, auditFiles(t, p.opts, file{"boot/root.cpio", mk(format, cleanBody())}))
		})
	}
	t.Run("initramfs", func(t *testing.T) {
		early := mk("newc", cleanBody())
		early = append(early, make([]byte, (512-len(early)%512)%512)...)
		main := runTool(t, "", mk("newc", p.env()), nil, "gzip", "-c")
		r := auditFiles(t, p.opts, file{"boot/initrd.img", append(early, main...)})
		p.wantBoth(t, r, "boot/initrd.img!/etc/app.env")
	})
}

// zipOf writes files as a zip with Go's archive/zip, into a pipe when
// piped (the writer cannot seek: every entry gets a data descriptor, a
// stored one its size only there).
func zipOf(t *testing.T, method uint16, piped bool, files ...file) []byte {
	var out bytes.Buffer
	var w io.Writer = &out
	var pr *io.PipeReader
	done := make(chan struct{})
	if piped {
		var pw *io.PipeWriter
		pr, pw = io.Pipe()
		w = pw
		go func() {
			io.Copy(&out, pr)
			close(done)
		}()
		defer func() { pw.Close(); <-done }()
	}
	zw := zip.NewWriter(w)
	for _, f := range files {
		fw, err := zw.CreateHeader(&zip.FileHeader{Name: f.name, Method: method})
		if err != nil {
			t.Fatal(err)
		}
		fw.Write(f.data)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if piped {
		w.(*io.PipeWriter).Close()
		<-done
		pr.Close()
	}
	return append([]byte(nil), out.Bytes()...)
}

// Archives that do not start at byte 0, and zips written to a pipe.
func TestEmbeddedArchives(t *testing.T) {
	t.Parallel()
	p := plantSecrets(t)
	launch := []byte("#!/bin/bash\n# launch script\nexec java -jar \"$0\" \"$@\"\nexit 0\n")
	makeselfHead := []byte("#!/bin/sh\n# This script was generated using Makeself\nlabel=\"demo\"\nskip=4\ntail -n +$skip \"$0\" | tar xz\nexit 0\n")
	elf, err := os.ReadFile(peer(t, "true"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	zipTool := func(args ...string) []byte {
		writeTree(t, dir, file{"app/config/app.env", p.env()}, file{"app/lib/readme.txt", text(30<<10, 8)})
		return runTool(t, dir, nil, nil, "zip", append([]string{"-q", "-r"}, args...)...)
	}
	tarGz := func(comp string, body []byte) []byte {
		d := t.TempDir()
		writeTree(t, d, file{"payload/app.env", body}, file{"payload/install.sh", []byte("#!/bin/sh\necho installing\n")})
		return runTool(t, d, nil, nil, "tar", "-c", comp, "-f", "-", "payload")
	}
	cases := []struct {
		name string
		data func(body []byte) []byte
		path string // where the secrets are found
	}{
		{"executable jar (launch script, then a zip)", func(b []byte) []byte {
			return append(append([]byte(nil), launch...), zipOf(t, zip.Deflate, false, file{"BOOT-INF/classes/application.env", b})...)
		}, "app.jar!/BOOT-INF/classes/application.env"},
		{"executable jar, offsets adjusted (zip -A)", func(b []byte) []byte {
			jar := filepath.Join(dir, "adj.jar")
			os.WriteFile(jar, append(append([]byte(nil), launch...), zipOf(t, zip.Deflate, false, file{"BOOT-INF/classes/application.env", b})...), 0o644)
			runTool(t, dir, nil, nil, "zip", "-q", "-A", jar)
			out, _ := os.ReadFile(jar)
			return out
		}, "app.jar!/BOOT-INF/classes/application.env"},
		{"jar(1) behind a launch script", func(b []byte) []byte {
			d := t.TempDir()
			writeTree(t, d, file{"classes/application.env", b}, file{"classes/App.txt", []byte("main")})
			runTool(t, d, nil, nil, "jar", "--create", "--file", "app.jar", "-C", "classes", ".")
			jar, err := os.ReadFile(filepath.Join(d, "app.jar"))
			if err != nil {
				t.Fatal(err)
			}
			return append(append([]byte(nil), launch...), jar...)
		}, "app.jar!/application.env"},
		{"python -m zipapp", func(b []byte) []byte {
			d := t.TempDir()
			writeTree(t, d, file{"src/__main__.py", []byte("print(1)\n")}, file{"src/settings.env", b})
			runTool(t, d, nil, nil, "python3", "-m", "zipapp", "src", "-o", "app.pyz", "-p", "/usr/bin/env python3")
			pyz, err := os.ReadFile(filepath.Join(d, "app.pyz"))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(pyz, []byte("#!")) {
				t.Fatal("zipapp wrote no shebang")
			}
			return pyz
		}, "app.jar!/settings.env"},
		{"python zip application", func(b []byte) []byte {
			return append([]byte("#!/usr/bin/env python3\n"), zipOf(t, zip.Deflate, false, file{"__main__.py", []byte("print(1)\n")}, file{"settings.env", b})...)
		}, "app.jar!/settings.env"},
		{"makeself-like installer, tar.gz", func(b []byte) []byte {
			return append(append([]byte(nil), makeselfHead...), tarGz("-z", b)...)
		}, "app.jar!/payload/app.env"},
		{"makeself-like installer, tar.xz", func(b []byte) []byte {
			return append(append([]byte(nil), makeselfHead...), tarGz("-J", b)...)
		}, "app.jar!/payload/app.env"},
		{"self-extracting executable (ELF, then a zip)", func(b []byte) []byte {
			return append(append([]byte(nil), elf...), zipOf(t, zip.Deflate, false, file{"setup/app.env", b})...)
		}, "app.jar!/setup/app.env"},
		{"zip written to a pipe, stored entries", func(b []byte) []byte {
			return zipOf(t, zip.Store, true, file{"a.txt", text(70<<10, 9)}, file{"conf/app.env", b}, file{"z.txt", []byte("PK\x07\x08 not a descriptor")})
		}, "app.jar!/conf/app.env"},
		{"zip written to a pipe, deflated", func(b []byte) []byte {
			return zipOf(t, zip.Deflate, true, file{"conf/app.env", b})
		}, "app.jar!/conf/app.env"},
		{"zip(1) to a pipe, stored", func(b []byte) []byte {
			_ = b
			return zipTool("-0", "-", "app")
		}, "app.jar!/app/config/app.env"},
		{"zip(1) to a pipe, deflated", func(b []byte) []byte {
			_ = b
			return zipTool("-", "app")
		}, "app.jar!/app/config/app.env"},
		{"a zip after a short prefix (found by its end record)", func(b []byte) []byte {
			return append([]byte("prefix\x00\x01\x02 not a script\n"), zipOf(t, zip.Deflate, false, file{"conf/app.env", b})...)
		}, "app.jar!/conf/app.env"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p.wantBoth(t, auditFiles(t, p.opts, file{"app.jar", c.data(p.env())}), c.path)
			if strings.HasPrefix(c.name, "zip(1)") {
				return // zip(1) reads the planted tree; its clean twin is below
			}
			wantClean(t, auditFiles(t, p.opts, file{"app.jar", c.data(cleanBody())}))
		})
	}
	t.Run("zip(1) clean twin", func(t *testing.T) {
		writeTree(t, dir, file{"app/config/app.env", cleanBody()})
		for _, args := range [][]string{{"-0", "-", "app"}, {"-", "app"}} {
			wantClean(t, auditFiles(t, p.opts, file{"app.jar", runTool(t, dir, nil, nil, "zip", append([]string{"-q", "-r"}, args...)...)}))
		}
	})
}

// A zip behind more than a buffer of bytes the audit does not parse is
// found by its end record after its entries went by: incomplete, never
// clean. A zip whose central directory names an entry the local headers
// do not reach (hidden from a streaming reader) is incomplete too.
func TestZipNotReachable(t *testing.T) {
	t.Parallel()
	junk := bytes.Repeat([]byte{0xc3, 0x00, 0x9f, 0x11}, 40<<10)
	z := zipOf(t, zip.Deflate, false, file{"conf/app.env", cleanBody()})
	wantIncomplete(t, auditFiles(t, Options{}, file{"data.bin", append(junk, z...)}), "data.bin: holds a zip archive")
	// After an executable's end, bytes that are no format, then a zip:
	// the executable's bytes went by before the end record was seen.
	elf, err := os.ReadFile(peer(t, "true"))
	if err != nil {
		t.Fatal(err)
	}
	wantIncomplete(t, auditFiles(t, Options{}, file{"setup.bin", cat(elf, []byte("not a format"), z)}), "setup.bin: holds a zip archive")

	// Two entries; the second one's local header is moved behind bytes
	// that are not a zip record, the central directory still names it.
	a := zipOf(t, zip.Store, false, file{"a.txt", []byte("first")}, file{"b.txt", []byte("second")})
	second := bytes.Index(a[4:], []byte("PK\x03\x04")) + 4
	hidden := append(append(append([]byte(nil), a[:second]...), []byte("GAP!")...), a[second:]...)
	// Shift the central directory's offsets of b.txt and of the directory.
	cd := bytes.Index(hidden, []byte("PK\x01\x02"))
	cd2 := bytes.Index(hidden[cd+4:], []byte("PK\x01\x02")) + cd + 4
	le32 := func(b []byte, v int) { b[0], b[1], b[2], b[3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24) }
	le32(hidden[cd2+42:], second+4)
	eocd := bytes.LastIndex(hidden, []byte("PK\x05\x06"))
	le32(hidden[eocd+16:], cd)
	wantIncomplete(t, auditFiles(t, Options{}, file{"lib.zip", hidden}), "that the local headers do not reach")
	if _, err := zip.NewReader(bytes.NewReader(hidden), int64(len(hidden))); err != nil {
		t.Fatalf("the crafted zip does not open with archive/zip: %v", err)
	}
}

// ar archives: a static library made by ar(1) with a member holding the
// secrets, and GNU long names.
func TestArArchive(t *testing.T) {
	t.Parallel()
	p := plantSecrets(t)
	dir := t.TempDir()
	long := "a-member-name-longer-than-sixteen-bytes.env"
	writeTree(t, dir, file{long, p.env()}, file{"b.o", text(1001, 10)})
	runTool(t, dir, nil, nil, "ar", "rc", "libdemo.a", "b.o", long)
	b, _ := os.ReadFile(filepath.Join(dir, "libdemo.a"))
	p.wantBoth(t, auditFiles(t, p.opts, file{"usr/lib/libdemo.a", b}), "usr/lib/libdemo.a!/"+long)
	writeTree(t, dir, file{long, cleanBody()})
	os.Remove(filepath.Join(dir, "libdemo.a"))
	runTool(t, dir, nil, nil, "ar", "rc", "libdemo.a", "b.o", long)
	b, _ = os.ReadFile(filepath.Join(dir, "libdemo.a"))
	wantClean(t, auditFiles(t, p.opts, file{"usr/lib/libdemo.a", b}))
}

var _ = fmt.Sprint
