package caddymodule

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
)

// mainArgsEnv carries, to the test binary run again as a subprocess, the
// arguments Caddy's own main gets there (runMinipay's tests skip Caddy's
// command line: cobra, flag parsing left to the command, os.Exit).
const mainArgsEnv = "MINIPAY_TEST_CADDY_MAIN_ARGS"

// caddyMain runs `caddy <args>` as the built binary does (caddycmd.Main),
// in a subprocess, and returns its exit status, stdout and stderr.
func caddyMain(t *testing.T, stdin string, env []string, args ...string) (int, string, string) {
	t.Helper()
	encoded, err := json.Marshal(args)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestMinipayThroughCaddysCommandLine$")
	cmd.Env = append(append(os.Environ(), mainArgsEnv+"="+string(encoded)), env...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatal(err)
	}
	return cmd.ProcessState.ExitCode(), out.String(), errOut.String()
}

// The command through Caddy's command line, as a user runs the binary:
// the exit statuses 0, 1 and 2, stdin without --file, a secret through
// {env.*} never printed, --help on stdout, and sign's published vector
// byte for byte (README "caddy minipay verify").
func TestMinipayThroughCaddysCommandLine(t *testing.T) {
	if encoded := os.Getenv(mainArgsEnv); encoded != "" {
		var args []string
		if err := json.Unmarshal([]byte(encoded), &args); err != nil {
			os.Exit(99)
		}
		os.Args = append([]string{"caddy"}, args...)
		caddycmd.Main()
		os.Exit(0) // Main returned: the command succeeded
	}
	const cbtisKey = "6d0e8fa7b10c40c3a48c0c2be41cb178"
	env := []string{"MINIPAY_TEST_CBTIS_KEY=" + cbtisKey, "MINIPAY_TEST_V2_KEY=192006250b4c09247ec02edce69f6a2d"}
	cbtis := []string{"minipay", "verify", "--provider", "cbtis", "--set", "api_key={env.MINIPAY_TEST_CBTIS_KEY}", "--header", "Signature: " + cbtisSig}
	v2Request := `<xml><appid>wxd930ea5d5a258f4f</appid><mch_id>10000100</mch_id><device_info>1000</device_info><body>test</body><nonce_str>ibuaiVcKdpRxkhJA</nonce_str></xml>`
	for _, tt := range []struct {
		name, stdin string
		args        []string
		code        int
		stdout      string // a part of stdout ("" for none at all)
		stderr      string // a part of stderr
	}{
		{"valid, from stdin without --file", cbtisBody, cbtis, 0, "verdict: valid\n", ""},
		{"a changed byte", strings.Replace(cbtisBody, "105.00", "105.01", 1), cbtis, 1, "verdict: invalid (notification signature does not verify)\n", ""},
		{"an unknown flag", cbtisBody, append(cbtis, "--colour"), 2, "", "flag provided but not defined: -colour"},
		{"an empty input", "", append(cbtis, "--file", "-"), 2, "", "the input is empty"},
		{"--help", "", []string{"minipay", "verify", "--help"}, 0, "usage: caddy minipay verify", ""},
		{"no subcommand", "", []string{"minipay"}, 2, "", "usage: caddy minipay verify"},
		{"sign, WeChat's official example", v2Request, []string{"minipay", "sign", "--provider", "wechat_v2",
			"--set", "api_key={env.MINIPAY_TEST_V2_KEY}", "--file", "-"}, 0,
			"provider: wechat_v2\nsign_type: MD5\nstring_to_sign: appid=wxd930ea5d5a258f4f&body=test&device_info=1000&mch_id=10000100&nonce_str=ibuaiVcKdpRxkhJA&key=***\nsignature: 9A0A8659F005D6984697E2CA0A9CF3B7\n", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := caddyMain(t, tt.stdin, env, tt.args...)
			if code != tt.code || tt.stdout == "" && out != "" || !strings.Contains(out, tt.stdout) || !strings.Contains(errOut, tt.stderr) {
				t.Fatalf("exit %d, want %d\nstdout %q, want %q\nstderr %q, want %q", code, tt.code, out, tt.stdout, errOut, tt.stderr)
			}
			if strings.Contains(out+errOut, cbtisKey) || strings.Contains(out+errOut, "192006250b4c09247ec02edce69f6a2d") {
				t.Fatalf("a key is printed:\n%s%s", out, errOut)
			}
		})
	}
}
