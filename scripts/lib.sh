# shellcheck shell=bash
# Helpers shared by scripts/demo and scripts/test. Source it; do not run it.
#
#   rsd_init                      strict mode, repository root, quiet Terraform/pip defaults
#   rsd_python                    a Python >= 3.11 (prints its command)
#   rsd_venv DIR REQUIREMENTS     (re)build a virtual environment when the requirements change
#   rsd_node_modules DIR          (re)install DIR/node_modules from DIR/package-lock.json when it changes
#   rsd_terraform_cli_config      write .cache/terraform/terraformrc: local provider mirror or registry
#   rsd_require_terraform         fail with a clear message when terraform is missing or too old
#   rsd_stage / rsd_info / rsd_fail   progress lines

RSD_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RSD_CACHE="$RSD_ROOT/.cache"
# The module needs Terraform >= 1.9; its `terraform test` suite (override_during in mocks) needs 1.11.
RSD_MIN_TERRAFORM="1.11.0"

rsd_init() {
  set -euo pipefail
  cd "$RSD_ROOT"
  mkdir -p "$RSD_CACHE/logs"
  export CHECKPOINT_DISABLE=1          # no Terraform version check calls
  export TF_IN_AUTOMATION=1
  export TF_INPUT=0
  export PIP_DISABLE_PIP_VERSION_CHECK=1
  export PYTHONDONTWRITEBYTECODE=1
  export PYTHONUNBUFFERED=1
}

rsd_stage() { printf '==> %s\n' "$*"; }
rsd_info() { printf '    %s\n' "$*"; }
rsd_fail() { printf 'ERROR: %s\n' "$*" >&2; return 1; }

# A Python interpreter >= 3.11 (the version the function's tests need).
rsd_python() {
  local candidate
  for candidate in python3.13 python3.12 python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1 &&
      "$candidate" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
      echo "$candidate"
      return 0
    fi
  done
  rsd_fail "Python 3.11 or newer is required (looked for python3.13, python3.12, python3.11, python3)"
}

# rsd_venv DIR REQUIREMENTS: create DIR from REQUIREMENTS, or reuse it when neither the
# requirements file nor the interpreter changed since it was built (hash stamp in DIR).
rsd_venv() {
  local dir="$1" requirements="$2" python stamp log
  python="$(rsd_python)"
  stamp="$({ cat "$requirements"; "$python" -c 'import sys; print(sys.version)'; } | sha256sum | cut -d' ' -f1)"
  if [[ -f "$dir/.requirements.sha256" && "$(cat "$dir/.requirements.sha256")" == "$stamp" && -x "$dir/bin/python" ]]; then
    rsd_info "$(basename "$dir"): up to date with $(basename "$requirements")"
    return 0
  fi
  log="$RSD_CACHE/logs/pip-$(basename "$dir").log"
  rsd_info "$(basename "$dir"): installing $(basename "$requirements") (first run or requirements changed; log: ${log#"$RSD_ROOT"/})"
  rm -rf "$dir"
  "$python" -m venv "$dir"
  if ! "$dir/bin/python" -m pip install --quiet --requirement "$requirements" >"$log" 2>&1; then
    tail -n 30 "$log" >&2
    rm -rf "$dir"
    rsd_fail "could not install $(basename "$requirements") into $(basename "$dir")"
    return 1
  fi
  echo "$stamp" >"$dir/.requirements.sha256"
}

# rsd_node_modules DIR: `npm ci` in DIR (exact versions from its package-lock.json), or reuse DIR/node_modules
# when neither the lock file nor node changed since it was installed (hash stamp in node_modules).
rsd_node_modules() {
  local dir="$1" stamp log
  if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    rsd_fail "Node.js and npm are required for the authorization stage (the IAM policy evaluator runs on node)"
    return 1
  fi
  stamp="$({ cat "$dir/package-lock.json"; node --version; } | sha256sum | cut -d' ' -f1)"
  if [[ -f "$dir/node_modules/.lock.sha256" && "$(cat "$dir/node_modules/.lock.sha256")" == "$stamp" ]]; then
    rsd_info "$dir/node_modules: up to date with package-lock.json"
    return 0
  fi
  log="$RSD_CACHE/logs/npm-ci.log"
  rsd_info "$dir/node_modules: npm ci (first run or package-lock.json changed; log: ${log#"$RSD_ROOT"/})"
  if ! npm ci --prefix "$dir" --no-audit --no-fund >"$log" 2>&1; then
    tail -n 30 "$log" >&2
    rsd_fail "npm ci failed in $dir"
    return 1
  fi
  echo "$stamp" >"$dir/node_modules/.lock.sha256"
}

# A provider mirror counts only if it holds hashicorp/aws.
_rsd_is_aws_mirror() {
  [[ -n "$1" && -d "$1/registry.terraform.io/hashicorp/aws" ]] &&
    [[ -n "$(ls -A "$1/registry.terraform.io/hashicorp/aws" 2>/dev/null)" ]]
}

# Print the directory of a local provider mirror holding hashicorp/aws, or nothing.
# Order: $TF_PROVIDER_MIRROR; Terraform's implicit local mirror directories; /opt/*/ (a mirror
# unpacked under /opt, as images with preinstalled providers do).
rsd_find_provider_mirror() {
  local dir data_dirs
  if [[ -n "${TF_PROVIDER_MIRROR:-}" ]]; then
    if _rsd_is_aws_mirror "$TF_PROVIDER_MIRROR"; then
      echo "$TF_PROVIDER_MIRROR"
      return 0
    fi
    rsd_fail "TF_PROVIDER_MIRROR=$TF_PROVIDER_MIRROR holds no registry.terraform.io/hashicorp/aws"
    return 1
  fi
  IFS=: read -r -a data_dirs <<<"${XDG_DATA_DIRS:-/usr/local/share:/usr/share}"
  for dir in \
    "$HOME/.terraform.d/plugins" \
    "${XDG_DATA_HOME:-$HOME/.local/share}/terraform/plugins" \
    "${data_dirs[@]/%//terraform/plugins}"; do
    if _rsd_is_aws_mirror "$dir"; then
      echo "$dir"
      return 0
    fi
  done
  for dir in /opt/*/registry.terraform.io/hashicorp/aws; do
    dir="${dir%/registry.terraform.io/hashicorp/aws}"
    if _rsd_is_aws_mirror "$dir"; then
      echo "$dir"
      return 0
    fi
  done
}

# Write the project's own Terraform CLI configuration and point TF_CLI_CONFIG_FILE at it, so a
# user's ~/.terraformrc (or a TF_CLI_CONFIG_FILE naming a missing file) never changes the run.
rsd_terraform_cli_config() {
  local mirror config="$RSD_CACHE/terraform/terraformrc"
  mkdir -p "$RSD_CACHE/terraform/plugin-cache"
  mirror="$(rsd_find_provider_mirror)" || return 1
  if [[ -n "$mirror" ]]; then
    cat >"$config" <<EOF
# Written by scripts/lib.sh: hashicorp/aws from a local filesystem mirror, anything else from the registry.
provider_installation {
  filesystem_mirror {
    path    = "$mirror"
    include = ["registry.terraform.io/hashicorp/aws"]
  }
  direct {
    exclude = ["registry.terraform.io/hashicorp/aws"]
  }
}
EOF
    rsd_info "terraform providers: filesystem mirror $mirror"
  else
    cat >"$config" <<EOF
# Written by scripts/lib.sh: no local provider mirror found, providers come from the registry
# (downloaded once into the plugin cache).
plugin_cache_dir = "$RSD_CACHE/terraform/plugin-cache"
EOF
    rsd_info "terraform providers: registry.terraform.io (no local mirror; cache in .cache/terraform/plugin-cache)"
  fi
  export TF_CLI_CONFIG_FILE="$config"
}

rsd_require_terraform() {
  local version
  if ! command -v terraform >/dev/null 2>&1; then
    rsd_fail "terraform not found on PATH (Terraform >= $RSD_MIN_TERRAFORM is needed: https://developer.hashicorp.com/terraform/install)"
    return 1
  fi
  version="$(terraform version -json 2>/dev/null | sed -n 's/.*"terraform_version": *"\([^"]*\)".*/\1/p')"
  if [[ "$(printf '%s\n%s\n' "$RSD_MIN_TERRAFORM" "$version" | sort -V | head -n1)" != "$RSD_MIN_TERRAFORM" ]]; then
    rsd_fail "terraform $version found; >= $RSD_MIN_TERRAFORM is needed"
    return 1
  fi
  rsd_info "terraform $version"
}
