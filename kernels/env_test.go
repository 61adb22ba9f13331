package kernels

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
)

// helperEnv, set in the environment, makes the test binary print what the
// package chose at init and exit instead of running the tests (see
// TestMain): TestEnv runs it with WAKEWORDD_KERNELS set, since the variable
// is read once, when the package is initialised.
const helperEnv = "WAKEWORDD_KERNELS_TEST_HELPER"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) == "1" {
		fmt.Printf("impl=%s int8=%s err=%v\n", Impl(), Int8Impl(), EnvError())
		os.Exit(0)
	}
	implAtInit = Impl()
	os.Exit(m.Run())
}

// implAtInit is Impl() before any test switched the kernels.
var implAtInit string

// TestImplAtInit checks this process's own choice against its environment,
// e.g. WAKEWORDD_KERNELS=generic go test -exec qemu-aarch64 ./kernels/,
// where TestEnv cannot run a child.
func TestImplAtInit(t *testing.T) {
	want := "generic"
	if asm, _ := choose(haveAsm, os.Getenv(EnvVar)); asm {
		want = asmName
	}
	if implAtInit != want {
		t.Errorf("with %s=%q, Impl() = %q at init, want %q", EnvVar, os.Getenv(EnvVar), implAtInit, want)
	}
}

func TestChoose(t *testing.T) {
	for _, c := range []struct {
		have    bool
		env     string
		asm     bool
		wantErr string
	}{
		{true, "", true, ""},
		{false, "", false, ""},
		{true, "generic", false, ""},
		{false, "generic", false, ""},
		{true, "neon", true, `WAKEWORDD_KERNELS="neon": want generic or unset`},
		{true, "Generic", true, `WAKEWORDD_KERNELS="Generic": want generic or unset`},
		{false, " generic", false, `WAKEWORDD_KERNELS=" generic": want generic or unset`},
	} {
		asm, err := choose(c.have, c.env)
		gotErr := ""
		if err != nil {
			gotErr = err.Error()
		}
		if asm != c.asm || gotErr != c.wantErr {
			t.Errorf("choose(%v, %q) = %v, %q; want %v, %q", c.have, c.env, asm, gotErr, c.asm, c.wantErr)
		}
	}
}

// TestEnv runs this test binary with WAKEWORDD_KERNELS unset, "generic" and
// an unknown value, and checks the kernels it chose at init.
func TestEnv(t *testing.T) {
	def := "generic"
	if haveAsm {
		def = asmName
	}
	for _, c := range []struct {
		env  string // "" unsets it
		want string
	}{
		{"", fmt.Sprintf("impl=%s int8=%s err=<nil>", def, int8Name(haveAsm))},
		{"generic", "impl=generic int8=generic err=<nil>"},
		{"fast", fmt.Sprintf(`impl=%s int8=%s err=WAKEWORDD_KERNELS="fast": want generic or unset`, def, int8Name(haveAsm))},
	} {
		exe, err := os.Executable()
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(exe, "-test.run=^$")
		for _, kv := range os.Environ() {
			if !strings.HasPrefix(kv, EnvVar+"=") {
				cmd.Env = append(cmd.Env, kv)
			}
		}
		cmd.Env = append(cmd.Env, helperEnv+"=1")
		if c.env != "" {
			cmd.Env = append(cmd.Env, EnvVar+"="+c.env)
		}
		out, err := cmd.Output()
		if errors.Is(err, syscall.ENOEXEC) {
			// qemu-user (go test -exec qemu-aarch64) cannot run a child
			// binary of the emulated architecture without binfmt_misc.
			t.Skipf("cannot run the test binary as a child: %v", err)
		}
		if err != nil {
			t.Fatalf("%s=%q: %v", EnvVar, c.env, err)
		}
		if got := strings.TrimSpace(string(out)); got != c.want {
			t.Errorf("%s=%q: the child printed %q, want %q", EnvVar, c.env, got, c.want)
		}
	}
}

// int8Name is Int8Impl with the assembly on (asm) or off.
func int8Name(asm bool) string {
	if !asm {
		return "generic"
	}
	return int8AsmName()
}
