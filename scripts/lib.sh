# Shared by scripts/demo and scripts/test: Debian packages and the build.
# shellcheck shell=bash

UKEY_DEBIAN_PACKAGES=(
	build-essential cmake pkg-config
	libssl-dev openssl libsqlite3-dev sqlite3 libjson-c-dev libinih-dev libp11-kit-dev
	libcmocka-dev softhsm2 opensc python3
	libusb-1.0-0-dev libudev-dev libpcsclite-dev
	pcscd umockdev libumockdev-dev vsmartcard-vpcd vsmartcard-vpicc python3-pycryptodome
	clang-14 clang libclang-rt-14-dev util-linux
	socat iproute2 procps mount tmux
	debhelper dpkg-dev lintian mandoc systemd
	postgresql-15 libpq-dev
)

# Installs what is missing (as root, through apt-get); quiet when all is there.
ukey_install_deps() {
	local missing=() p
	for p in "${UKEY_DEBIAN_PACKAGES[@]}" "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep "install ok installed" >/dev/null ||
			missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	echo "installing Debian packages: ${missing[*]}"
	if [ "$(id -u)" -ne 0 ]; then
		echo "error: packages missing and not root: ${missing[*]}" >&2
		return 1
	fi
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# ukey_build DIR [cmake options...]: configure and build the tree into DIR.
ukey_build() {
	local dir=$1
	shift
	cmake -S "$UKEY_TOP" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
	cmake --build "$dir" -j"$(nproc)" >/dev/null
}
