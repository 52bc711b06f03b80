package seal

import (
	"errors"
	"testing"
)

// TestUserConfigDirFollowsSops: on macOS sops reads keys.txt under
// $XDG_CONFIG_HOME when it is set, although os.UserConfigDir says
// ~/Library/Application Support; sealenv must find the same file.
func TestUserConfigDirFollowsSops(t *testing.T) {
	t.Parallel()
	osDir := func() (string, error) { return "/os/default", nil }
	env := func(v string) func(string) string {
		return func(k string) string {
			if k == "XDG_CONFIG_HOME" {
				return v
			}
			return ""
		}
	}
	for _, c := range []struct{ goos, xdg, want string }{
		{"darwin", "/Users/me/.config", "/Users/me/.config"},
		{"darwin", "", "/os/default"},
		{"linux", "/home/me/.xdg", "/os/default"}, // os.UserConfigDir reads it itself on Linux
		{"windows", "C:/xdg", "/os/default"},
	} {
		if got, err := userConfigDir(c.goos, env(c.xdg), osDir); err != nil || got != c.want {
			t.Errorf("%s, XDG_CONFIG_HOME=%q: %q, %v; want %q", c.goos, c.xdg, got, err, c.want)
		}
	}
	if _, err := userConfigDir("linux", env(""), func() (string, error) { return "", errors.New("no home") }); err == nil {
		t.Error("an error of os.UserConfigDir was lost")
	}
}

// TestIdentityEnvVarsIsImmutable: a caller that changes the list it got
// changes neither the next caller's list nor what the injector removes.
func TestIdentityEnvVarsIsImmutable(t *testing.T) {
	t.Parallel()
	got := IdentityEnvVars()
	if len(got) != 8 || got[0] != EnvAgeKey || got[len(got)-1] != EnvSignKey {
		t.Fatalf("IdentityEnvVars() = %q", got)
	}
	got[0] = "PATH"
	if again := IdentityEnvVars(); again[0] != EnvAgeKey {
		t.Errorf("changing a returned list changed the next one: %q", again)
	}
	if IsIdentityEnvVar("PATH") || !IsIdentityEnvVar(EnvAgeKey) {
		t.Errorf("changing a returned list changed IsIdentityEnvVar")
	}
	for _, v := range IdentityEnvVars() {
		if !IsIdentityEnvVar(v) {
			t.Errorf("IsIdentityEnvVar(%s) = false", v)
		}
	}
	for _, v := range []string{"", "sops_age_key", "SOPS_AGE_KEY_", "SOPS_AGE_RECIPIENTS", "SEALENV_BUNDLE"} {
		if IsIdentityEnvVar(v) {
			t.Errorf("IsIdentityEnvVar(%q) = true", v)
		}
	}
}
