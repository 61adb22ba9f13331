# Sourced by the scripts: puts Go on PATH where the official installer leaves it.
for d in /usr/local/go/bin "$HOME/go/bin" /root/go/bin; do
  case ":$PATH:" in *":$d:"*) ;; *) [ -d "$d" ] && PATH="$PATH:$d" ;; esac
done
export PATH
command -v go >/dev/null || { echo "Go >= 1.26 is required and was not found (see https://go.dev/doc/install)" >&2; exit 1; }
