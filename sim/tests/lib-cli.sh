# The harness the CLI tests sim/tests/cli_*.sh share, sourced by each of them:
#   . "$(dirname "$0")/lib-cli.sh"
# (its name does not match cli_*.sh, so sim/tests/run-tests.sh does not run it as a test).
# It prints cmocka's lines, which sim/tests/run-tests.sh counts:
#   [ RUN      ] NAME, [       OK ] NAME, [  FAILED  ] NAME, and at the end
#   [==========] N test(s) run., [  PASSED  ] N test(s)., the FAILED list.
# Each script builds its own checks on cli_pass and cli_fail.

# cli_init PREFIX [EPTSIM]: E the eptsim binary (EPTSIM, else $EPTSIM_BIN, else
# build/eptsim) as an absolute path; T a new temporary folder /tmp/PREFIX.XXXXXX, removed on
# exit after unmounting every path the script added to the array mounts; the counters; cd T.
cli_init() {
	E=$(realpath "${2:-${EPTSIM_BIN:-build/eptsim}}")
	T=$(mktemp -d "/tmp/$1.XXXXXX")
	mounts=()
	trap 'for m in "${mounts[@]}"; do umount "$m"; done; rm -rf "$T"' EXIT
	passed=0; failed=0; failures=()
	cd "$T" || exit 1
}

# cli_pass NAME: the OK line, counted.
cli_pass() {
	echo "[       OK ] $1"; passed=$((passed + 1))
}

# cli_fail NAME [WHY [LISTED]]: WHY on a line of its own (if given and not empty), the
# FAILED line, counted; LISTED is the name in the closing FAILED list (default NAME).
cli_fail() {
	[ -z "${2:-}" ] || echo "$2"
	echo "[  FAILED  ] $1"; failed=$((failed + 1)); failures+=("${3:-$1}")
}

# cli_done: the summary lines; exits 1 if a test failed, else 0.
cli_done() {
	echo "[==========] $((passed + failed)) test(s) run."
	echo "[  PASSED  ] $passed test(s)."
	if [ $failed -gt 0 ]; then
		echo "[  FAILED  ] $failed test(s), listed below:"
		for f in "${failures[@]}"; do echo "[  FAILED  ] $f"; done
		exit 1
	fi
	exit 0
}
