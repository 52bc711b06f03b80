// Package e2e holds the end-to-end tests: images built for real by BuildKit
// (buildkitd + buildctl), loaded and run for real by podman with runc. The
// package has no code of its own outside its tests; the harness lives in
// harness_test.go (finding, starting and stopping the parts), build_test.go
// (builds, stand-in base images, podman load), containers_test.go (podman
// run, exec, stop) and archive_test.go (reading image tarballs), and
// docs/e2e.md says how to run it.
package e2e
