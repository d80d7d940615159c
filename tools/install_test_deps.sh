#!/bin/sh
# What the test suite needs beyond `pip install -e '.[test]'`: Debian's
# chromium and chromedriver, which tests/test_explorer.py drives headless.
# Does nothing when both are on PATH; otherwise installs them with apt-get,
# which needs root. Without root: have both installed (e.g. `sudo apt-get
# install chromium chromium-driver`) or put your own on PATH, then run the
# rest of the test command.
set -eu
if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "error: the browser tests need chromium and chromedriver on PATH; installing them needs root: sudo apt-get install chromium chromium-driver" >&2
  exit 1
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
