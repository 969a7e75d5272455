# tests/vm/vm.mk: the kernel tests that run under qemu (`make check-kernel`),
# included by the Makefile.  The host kernel has no SCTP (nor ESP), so these
# boot Debian's stock kernel under qemu (tests/vm/kvm-run.sh, TCG unless the
# machine has real VT-x/AMD-V) and run tests/vm/runall.sh inside it:
#
#   unit-tests tr_kernel  the transport's unit tests, for real this time
#   tr_kernel_test t1  kernel SCTP <-> kernel SCTP, IPv4 and IPv6
#   tr_kernel_t2.sh    kernel SCTP with RFC 6951 UDP encapsulation <-> usrsctp,
#                      in two network namespaces, both directions
#   xfrm_test.sh       the xfrm SAD backend (ESP SAs and SPD entries through
#                      NETLINK_XFRM) in two network namespaces: traffic,
#                      freeze, a transfer from snapshots, the replay window
#
# The guest binaries are the host's own (dynamically linked; kvm-run.sh copies
# the libraries ldd names).  A first run downloads the kernel package (about
# 70 MB) into build/kvm-cache ($KVMRUN_CACHE); later runs reuse it.
# When the VM cannot run here at all (qemu missing and not root to install it,
# nothing can be downloaded) the target says SKIPPED loudly and succeeds,
# unless KVM_REQUIRED=1, which turns a skip into a failure.

VM_TIMEOUT ?= 600
VM_BINS := $(B)/tests/vm/tr_kernel_test $(B)/unit-tests $(B)/tests/vm/xfrm_drv
VM_FILES := $(VM_BINS) tests/vm/tr_kernel_t2.sh tests/vm/xfrm_test.sh

.PHONY: check-kernel vm-bins

vm-bins: $(VM_BINS)

$(B)/tests/vm/tr_kernel_test: $(B)/tests/vm/tr_kernel_test.o $(B)/libctp.a
	$(call say,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $(filter %.o,$^) $(B)/libctp.a $(CORE_LIBS)

# The xfrm backend with only what it needs of the ipsec plugin: the SA codec
# and the algorithm table (the other plugin files are none of its business).
XFRM_DRV_OBJ := $(B)/tests/vm/xfrm_drv.o $(B)/src/features/ipsec/ipsec_sad_xfrm.o \
	$(B)/src/features/ipsec/ipsec_sa.o $(B)/src/features/ipsec/ipsec_alg.o

$(B)/tests/vm/xfrm_drv: $(XFRM_DRV_OBJ) $(B)/libctp.a
	$(call say,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $(XFRM_DRV_OBJ) $(B)/libctp.a $(CORE_LIBS)

check-kernel: $(VM_BINS)
	$(call say,TEST,"kernel (qemu): $(notdir $(VM_FILES))")
	$(Q)tests/vm/check-kernel.sh $(VM_TIMEOUT) $(VM_FILES)
