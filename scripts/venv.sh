# Shared by scripts/run and scripts/test: create .venv and install the project
# into it, again whenever pyproject.toml changed since the last install.
ensure_venv() {
    extras="$1"
    stamp=".venv/.installed$extras"
    if [ ! -x .venv/bin/python ]; then
        python3 -m venv .venv
    fi
    if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
        .venv/bin/python -m pip install --quiet --upgrade pip
        .venv/bin/python -m pip install --quiet -e ".$extras"
        touch "$stamp"
    fi
}
