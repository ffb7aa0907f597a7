#!/usr/bin/env bash
# Install the Debian font packages that train/line_synth.py renders synthetic text lines with.
#
#     sudo train/setup_fonts.sh        # (or as root; about 160 MB installed, ~90 MB download)
#
# Every package and its licence is listed in train/FONTS_AND_TEXT_LICENSES.md. The fonts are only
# used to render training images; none of them is shipped in the ppocr_edge wheel.
# Afterwards `python -m train.fonts` prints how many usable fonts were found.
# To use the fonts on a machine without apt access, copy them with
# `python -m train.fonts --copy DIR` and point PPOCR_EDGE_FONT_DIRS=DIR at the copy.
set -euo pipefail

PACKAGES=(
    fonts-dejavu-core fonts-dejavu-extra        # DejaVu: the fallback (Bitstream Vera licence)
    fonts-liberation2                           # Arial / Times / Courier metrics (OFL 1.1)
    fonts-noto-core                             # Noto Sans / Serif / Mono, many weights (OFL 1.1)
    fonts-urw-base35                            # Nimbus, Bookman, C059, P052, URW Gothic (AGPL-3 + font exception)
    fonts-texgyre                               # TeX Gyre Termes/Heros/Pagella/Bonum/... (GUST Font License)
    fonts-linuxlibertine                        # Linux Libertine / Biolinum (GPL-2+ w/ font exception or OFL 1.1)
    fonts-roboto-unhinted                       # Roboto, Roboto Condensed (Apache-2.0)
    fonts-open-sans                             # Open Sans (Apache-2.0)
    fonts-lato                                  # Lato (OFL 1.1)
    fonts-crosextra-carlito                     # Carlito, Calibri metrics (OFL 1.1)
    fonts-crosextra-caladea                     # Caladea, Cambria metrics (OFL 1.1; Debian packaging Apache-2.0)
    fonts-ebgaramond                            # EB Garamond (OFL 1.1)
    fonts-sil-gentium fonts-sil-charis fonts-sil-andika  # SIL serif / literacy sans (OFL 1.1)
    fonts-cmu                                   # Computer Modern Unicode (OFL 1.1)
    fonts-oldstandard                           # Old Standard (OFL)
    fonts-comic-neue                            # casual, handwriting-like (OFL 1.1)
    fonts-hack fonts-inconsolata                # monospace (MIT + Bitstream Vera; OFL 1.0)
    fonts-dseg                                  # DSEG seven/fourteen-segment display (OFL 1.1); opt-in only
)

if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
$SUDO apt-get install -y --no-install-recommends "${PACKAGES[@]}"
