// Package e2e holds the end-to-end tests: images built for real by BuildKit
// (buildkitd + buildctl), loaded and run for real by podman with runc. The
// package has no code of its own outside its tests; the harness lives in
// harness_test.go and archive_test.go, and docs/e2e.md says how to run it.
package e2e
