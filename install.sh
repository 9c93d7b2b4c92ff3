#!/usr/bin/env bash
# Sets tgbridge up on this machine: builds the release binary, installs it,
# creates the `tgbridge` system user, the config (from the commented example,
# never overwriting an existing one), the data directory and the systemd unit,
# generates the appservice registration once the config is filled in, and
# prints what to do next for Synapse or Conduit.
#
# Safe to run again at any time: what is already in place is left untouched.
# Run `./install.sh --help` for the options.
set -euo pipefail

NAME=tgbridge
SOURCE_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
DEFAULT_STATE_DIR=/var/lib/tgbridge

usage() {
    cat <<EOF
Usage: ./install.sh [--prefix DIR] [--binary PATH] [--no-root]

Installs tgbridge. As root, without options, it installs:
  /usr/local/bin/tgbridge                 the binary (built with cargo --release)
  /etc/tgbridge/config.yaml               the config (0600, kept if it exists)
  /etc/tgbridge/registration.yaml         the appservice registration (once configured)
  /var/lib/tgbridge                       the data directory (0700)
  /etc/systemd/system/tgbridge.service    the systemd unit
and creates the system user 'tgbridge'.

Options:
  --prefix DIR   Install the binary into DIR/bin (default: /usr/local). With any
                 prefix other than /usr/local or /usr, everything goes under DIR:
                 DIR/etc/tgbridge, DIR/var/lib/tgbridge, DIR/etc/systemd/system.
  --binary PATH  Install this already built binary instead of building one
                 (e.g. built on a bigger machine for the same CPU and C library:
                 cargo build --release --locked, then copy the tgbridge file).
  --no-root      Do not create the user, change owners or call systemctl (for
                 unprivileged installs and packaging). Implied when not root.
  -h, --help     Show this help.

Building takes 7 to 11 minutes on a 2-core x86-64 machine, and several
times that on a Raspberry Pi; the compiler needs up to 1.3 GB of memory per
job. With less than 2.6 GB of memory available the build runs one job at a
time (set CARGO_BUILD_JOBS to choose), so a 2 GB Raspberry Pi can build it.

Environment:
  DESTDIR        Stage the whole installation under this directory (packaging).
                 Installed files still name the final paths; the registration is
                 then generated on the target machine.
EOF
}

say() { printf '%s\n' "$*"; }
step() { printf '\n==> %s\n' "$*"; }
die() {
    printf '\ninstall.sh: error: %s\n' "$1" >&2
    shift
    local line
    for line in "$@"; do printf '  %s\n' "$line" >&2; done
    exit 1
}

# ---------------------------------------------------------------- options ---

PREFIX=/usr/local
BINARY=""
NO_ROOT=0
DESTDIR="${DESTDIR:-}"

parse_args() {
    while [[ $# -gt 0 ]]; do
        case "$1" in
            --prefix) [[ $# -ge 2 ]] || die "--prefix needs a directory."; PREFIX="$2"; shift 2 ;;
            --prefix=*) PREFIX="${1#*=}"; shift ;;
            --binary) [[ $# -ge 2 ]] || die "--binary needs a path."; BINARY="$2"; shift 2 ;;
            --binary=*) BINARY="${1#*=}"; shift ;;
            --no-root) NO_ROOT=1; shift ;;
            -h | --help) usage; exit 0 ;;
            *) usage >&2; die "unknown option '$1'." ;;
        esac
    done
    [[ "$PREFIX" == /* ]] || PREFIX="$(pwd)/$PREFIX"
    PREFIX="${PREFIX%/}"
    if [[ -n "$BINARY" && "$BINARY" != /* ]]; then BINARY="$(pwd)/$BINARY"; fi
    if [[ -n "$DESTDIR" && "$DESTDIR" != /* ]]; then DESTDIR="$(pwd)/$DESTDIR"; fi
    DESTDIR="${DESTDIR%/}"
}

# Final paths (what the installed files refer to) and staged paths (where
# they are written: the same unless DESTDIR is set).
resolve_paths() {
    BIN_DIR="$PREFIX/bin"
    case "$PREFIX" in
        /usr | /usr/local)
            CONF_DIR=/etc/$NAME
            STATE_DIR=$DEFAULT_STATE_DIR
            UNIT_DIR=/etc/systemd/system
            ;;
        *)
            CONF_DIR="$PREFIX/etc/$NAME"
            STATE_DIR="$PREFIX/var/lib/$NAME"
            UNIT_DIR="$PREFIX/etc/systemd/system"
            ;;
    esac
    BIN_PATH="$BIN_DIR/$NAME"
    CONFIG="$CONF_DIR/config.yaml"
    REGISTRATION="$CONF_DIR/registration.yaml"
    UNIT="$UNIT_DIR/$NAME.service"
}

staged() { printf '%s%s' "$DESTDIR" "$1"; }

# Users, owners and systemd are touched only by a real install as root.
system_mode() { [[ "$(id -u)" -eq 0 && -z "$DESTDIR" && "$NO_ROOT" -eq 0 ]]; }

# ---------------------------------------------------------- prerequisites ---

have() { command -v "$1" >/dev/null 2>&1; }

check_prerequisites() {
    local tool
    for tool in install cmp sed mktemp id; do
        have "$tool" || die "'$tool' was not found; it is part of coreutils/diffutils/sed on any Linux."
    done
    if [[ -z "$BINARY" ]]; then
        if ! have cargo; then
            if [[ "$(id -u)" -eq 0 ]]; then
                die "cargo was not found in root's PATH." \
                    "Build as your own user first, then install that binary:" \
                    "  cargo build --release --locked" \
                    "  sudo ./install.sh --binary target/release/$NAME" \
                    "(with CARGO_TARGET_DIR set, the binary is in \$CARGO_TARGET_DIR/release)" \
                    "(Rust itself comes from https://rustup.rs.)"
            fi
            die "cargo was not found." "Install the Rust toolchain from https://rustup.rs, open a new shell, and run ./install.sh again."
        fi
        if ! have cc && ! have gcc && ! have clang; then
            die "no C compiler was found (the bundled SQLite is compiled from C)." \
                "On Debian/Ubuntu/Raspberry Pi OS: apt-get install build-essential" \
                "On Fedora: dnf install gcc    On Arch: pacman -S base-devel"
        fi
    elif [[ ! -x "$BINARY" ]]; then
        die "--binary $BINARY is not an executable file."
    fi
    if system_mode; then
        have useradd || die "'useradd' was not found (package 'passwd' on Debian)."
    fi
}

# ------------------------------------------------------------ file helpers ---

# Installs SRC as DEST with MODE unless DEST already has the same content;
# says which. Never touches an up-to-date file, so a rerun changes nothing.
install_file() {
    local src="$1" dest="$2" mode="$3" label="$4"
    if [[ -f "$dest" ]] && cmp -s "$src" "$dest"; then
        chmod "$mode" "$dest"
        say "  $label: $dest (unchanged)"
    else
        local verb=installed
        [[ -e "$dest" ]] && verb=updated
        install -m "$mode" "$src" "$dest"
        say "  $label: $dest ($verb)"
    fi
}

ensure_dir() {
    local dir="$1" mode="$2" label="$3"
    if [[ -d "$dir" ]]; then
        chmod "$mode" "$dir"
        say "  $label: $dir (exists)"
    else
        install -d -m "$mode" "$dir"
        say "  $label: $dir (created)"
    fi
}

own() { if system_mode; then chown "$NAME:$NAME" "$@"; fi; }

# Escapes a path for the replacement side of a sed s### command.
sed_escape() { printf '%s' "$1" | sed 's/[&#\\]/\\&/g'; }

# ------------------------------------------------------------------ steps ---

# The path of the bridge's executable in cargo's JSON messages (one object a
# line). Cargo decides where it goes: CARGO_TARGET_DIR, a build.target-dir or
# a build.target triple in a cargo config all move it away from
# target/release, so it is read from cargo's report rather than assumed.
built_executable() {
    local found
    found="$(printf '%s\n' "$1" | sed -n \
        '/"reason":"compiler-artifact"/{/"kind":\["bin"\]/{/"name":"'"$NAME"'"/{s/.*"executable":"\([^"]*\)".*/\1/p;};};}')"
    # One line per artifact; the last one is the final binary.
    printf '%s' "${found##*$'\n'}"
}

build_binary() {
    if [[ -n "$BINARY" ]]; then
        step "Using the binary $BINARY"
        return
    fi
    step "Building the release binary"
    say "  This takes 7 to 11 minutes on a 2-core x86-64 machine and several times"
    say "  that on a Raspberry Pi; each compiler job needs up to 1.3 GB of memory."
    say "  (To skip it, build elsewhere and run ./install.sh --binary PATH.)"
    limit_build_jobs
    local messages
    # Cargo's progress and diagnostics still reach the terminal on stderr;
    # stdout carries its machine-readable report of what it built.
    messages="$(cd "$SOURCE_DIR" &&
        cargo build --release --locked --bin "$NAME" --message-format=json-render-diagnostics)" ||
        die "the build failed (see cargo's output above)."
    BINARY="$(built_executable "$messages")"
    [[ -n "$BINARY" ]] ||
        die "cargo built nothing it calls the $NAME executable." \
            "Build it yourself and install that file: ./install.sh --binary PATH"
    [[ -f "$BINARY" ]] ||
        die "cargo reported $BINARY as the built $NAME, but there is no such file." \
            "Install the binary by hand: ./install.sh --binary PATH"
    # The linker can leave the symbol table in; it is a fifth of the file
    # and nothing at run time needs it.
    if command -v strip >/dev/null 2>&1; then
        strip --strip-all "$BINARY" || die "strip $BINARY failed."
    fi
}

# Memory the kernel could hand the build right now, in MiB (0 if unknown).
available_mib() {
    local kib
    kib="$(sed -n 's/^MemAvailable: *\([0-9]*\) kB$/\1/p' /proc/meminfo 2>/dev/null || true)"
    printf '%s' "$(((${kib:-0}) / 1024))"
}

# One compiler job at a time when memory is short: the largest job (the
# final link with LTO) peaks at about 1.3 GB, and two jobs at once at about
# 1.9 GB. The user's own CARGO_BUILD_JOBS always wins.
limit_build_jobs() {
    [[ -z "${CARGO_BUILD_JOBS:-}" ]] || return 0
    local available
    available="$(available_mib)"
    if ((available > 0 && available < 2600)); then
        export CARGO_BUILD_JOBS=1
        say "  Only ${available} MiB of memory are available: building one job at a time."
    fi
}

create_user() {
    system_mode || return 0
    if id -u "$NAME" >/dev/null 2>&1; then
        say "  user: $NAME (exists)"
    else
        useradd --system --user-group --home-dir "$STATE_DIR" --no-create-home \
            --shell /usr/sbin/nologin --comment "tgbridge Matrix-Telegram bridge" "$NAME"
        say "  user: $NAME (created)"
    fi
}

install_binary() {
    install -d -m 0755 "$(staged "$BIN_DIR")"
    install_file "$BINARY" "$(staged "$BIN_PATH")" 0755 "binary"
}

install_dirs() {
    # The config holds the Telegram API hash and the appservice tokens, the
    # data directory the Telegram session: only the bridge's user reads them.
    ensure_dir "$(staged "$CONF_DIR")" 0700 "config dir"
    own "$(staged "$CONF_DIR")"
    ensure_dir "$(staged "$STATE_DIR")" 0700 "data dir"
    own "$(staged "$STATE_DIR")"
}

install_config() {
    local example="$SOURCE_DIR/config.example.yaml"
    [[ -f "$example" ]] || die "$example is missing: run install.sh from a complete checkout."
    local tmp
    tmp="$(mktemp)"
    # The example names the default data directory; point it at this one.
    sed "s#$DEFAULT_STATE_DIR#$(sed_escape "$STATE_DIR")#g" "$example" >"$tmp"
    install_file "$tmp" "$(staged "$CONF_DIR")/config.example.yaml" 0644 "example config"

    local config
    config="$(staged "$CONFIG")"
    if [[ -e "$config" ]]; then
        chmod 0600 "$config"
        say "  config: $config (exists, kept as is)"
    else
        install -m 0600 "$tmp" "$config"
        say "  config: $config (created from the example)"
    fi
    own "$config"
    rm -f "$tmp"
}

install_unit() {
    local template="$SOURCE_DIR/systemd/$NAME.service" tmp
    [[ -f "$template" ]] || die "$template is missing: run install.sh from a complete checkout."
    tmp="$(mktemp)"
    sed -e "s#/usr/local/bin/$NAME#$(sed_escape "$BIN_PATH")#g" \
        -e "s#/etc/$NAME/#$(sed_escape "$CONF_DIR")/#g" \
        -e "s#$DEFAULT_STATE_DIR#$(sed_escape "$STATE_DIR")#g" \
        "$template" >"$tmp"
    install -d -m 0755 "$(staged "$UNIT_DIR")"
    local before=""
    [[ -f "$(staged "$UNIT")" ]] && before="$(cat "$(staged "$UNIT")")"
    install_file "$tmp" "$(staged "$UNIT")" 0644 "systemd unit"
    rm -f "$tmp"
    if system_mode && [[ -d /run/systemd/system ]] && [[ "$before" != "$(cat "$(staged "$UNIT")")" ]]; then
        systemctl daemon-reload
        say "  systemd: reloaded"
    fi
}

# Generates the registration from the config. Returns 1 (with the bridge's
# own explanation in $REGISTRATION_ERROR) while the config still has the
# example's placeholders. Works on a copy of the config, so that a rerun
# which generates nothing new leaves both files untouched.
generate_registration() {
    local config scratch output
    config="$(staged "$CONFIG")"
    scratch="$(mktemp -d)"
    cp -p "$config" "$scratch/config.yaml"
    if ! output="$("$(staged "$BIN_PATH")" --config "$scratch/config.yaml" generate-registration \
        --output "$scratch/registration.yaml" 2>&1)"; then
        rm -rf "$scratch"
        # The messages name the scratch copy; the user edits the real file.
        REGISTRATION_ERROR="${output//"$scratch/config.yaml"/$CONFIG}"
        return 1
    fi
    if [[ ! -s "$scratch/registration.yaml" ]]; then
        rm -rf "$scratch"
        REGISTRATION_ERROR="generate-registration succeeded but wrote no registration. It said: $output"
        return 1
    fi
    # generate-registration writes the tokens it creates back into the config.
    install_file "$scratch/config.yaml" "$config" 0600 "config"
    install_file "$scratch/registration.yaml" "$(staged "$REGISTRATION")" 0600 "registration"
    rm -rf "$scratch"
    own "$config" "$(staged "$REGISTRATION")"
}

# ------------------------------------------------------------- next steps ---

print_fill_in_config() {
    cat <<EOF

==> Next: fill in the config

The config still has the example's placeholders. Edit $CONFIG and set:
  telegram.api_id, telegram.api_hash   from https://my.telegram.org ("API development tools")
  homeserver.address                   how the bridge reaches your homeserver, e.g. http://127.0.0.1:8008
  homeserver.domain                    your server name, the part after ':' in your Matrix id
  owner                                your own Matrix id, e.g. @you:example.org
  appservice.address / port            where the homeserver reaches the bridge (defaults fit one machine)

Then generate the registration, either by running ./install.sh again or with:
EOF
    if system_mode; then
        say "  sudo -u $NAME $BIN_PATH --config $CONFIG generate-registration"
    else
        say "  $BIN_PATH --config $CONFIG generate-registration"
    fi
    say ""
    say "What tgbridge said about the current config:"
    printf '%s\n' "$REGISTRATION_ERROR" | sed 's/^/  | /'
}

print_homeserver_steps() {
    cat <<EOF

==> Next: register the bridge with your homeserver

The registration is $REGISTRATION (it holds secret tokens; keep it private).

Synapse:
  1. Copy it where Synapse can read it:
       install -m 0640 -g matrix-synapse $REGISTRATION /etc/matrix-synapse/tgbridge-registration.yaml
  2. List it in homeserver.yaml:
       app_service_config_files:
         - /etc/matrix-synapse/tgbridge-registration.yaml
  3. Restart Synapse (it reads registrations only at start):
       systemctl restart matrix-synapse

Conduit:
  In your admin room (#admins:<your server name>), send a message that starts
  with the admin command and contains the registration in a code block:
       @conduit:<your server name>: register-appservice
       \`\`\`
       <the contents of $REGISTRATION>
       \`\`\`
  Conduit answers "Appservice registered"; no restart is needed.
EOF
}

print_run_steps() {
    say ""
    say "==> Then: log in to Telegram and start the bridge"
    if system_mode; then
        cat <<EOF
  sudo -u $NAME $BIN_PATH --config $CONFIG check   # config, database, homeserver
  sudo -u $NAME $BIN_PATH --config $CONFIG login   # phone, code, 2FA password (hidden)
  systemctl enable --now $NAME
  journalctl -u $NAME -f          # follow its log
EOF
        [[ -d /run/systemd/system ]] || say "  (systemd is not running here: start '$BIN_PATH --config $CONFIG run' under your service manager instead.)"
    else
        cat <<EOF
  $BIN_PATH --config $CONFIG check   # config, database, homeserver
  $BIN_PATH --config $CONFIG login   # phone, code, 2FA password (hidden)
  $BIN_PATH --config $CONFIG run
The systemd unit for a system-wide install is at $UNIT.
EOF
    fi
}

# ------------------------------------------------------------------- main ---

main() {
    parse_args "$@"
    resolve_paths
    check_prerequisites
    build_binary

    step "Installing"
    create_user
    install_binary
    install_dirs
    install_config
    install_unit

    if [[ -n "$DESTDIR" ]]; then
        say ""
        say "Staged under $DESTDIR. On the target machine, fill in $CONFIG and run:"
        say "  $BIN_PATH --config $CONFIG generate-registration"
        return 0
    fi

    step "Appservice registration"
    if generate_registration; then
        print_homeserver_steps
    else
        print_fill_in_config
    fi
    print_run_steps
}

main "$@"
