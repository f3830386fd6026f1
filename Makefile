# Denali/TS. The two commands a newcomer needs:
#   make run    set up, build the kernel image and ISO, boot it in QEMU with the 16 web-server VMs
#               of manifests/web.json on QEMU user networking: curl http://localhost:8080/ reaches
#               VM 0 (8081 VM 1, ...). Serves until Ctrl-C (or `stop` typed on the console).
#   make test   set up, then every test (compiler, interpreter, x86 back end, corpus, kernel boots)
.PHONY: setup image run test bench clean usb

setup:
	@bash tools/setup.sh

image: setup
	npm run build:image

run: image
	node tools/denali.mjs boot --manifest manifests/web.json --net user

test: setup
	@bash tools/test-summary.sh

bench: setup
	npm run bench:compiler

# make usb DEV=/dev/sdX: write images/denali.iso (built if needed) to a USB stick, after checking that
# DEV is a whole removable disk that is not mounted and after you type its name back (YES=1 skips that).
usb: setup
	@DEV="$(DEV)" YES="$(YES)" ISO="$(ISO)" bash tools/usb.sh

clean:
	rm -rf out images
