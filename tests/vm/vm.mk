# tests/vm/vm.mk: the kernel tests that run under qemu (`make check-kernel`),
# included by the Makefile.  The host kernel has no SCTP (nor ESP), so these
# boot Debian's stock kernel under qemu (tests/vm/kvm-run.sh, TCG unless the
# machine has real VT-x/AMD-V) and run tests/vm/runall.sh inside it:
#
#   unit-tests tr_kernel  the transport's unit tests, for real this time
#   tr_kernel_test t1  kernel SCTP <-> kernel SCTP, IPv4 and IPv6
#   tr_kernel_t2.sh    kernel SCTP with RFC 6951 UDP encapsulation <-> usrsctp,
#                      in two network namespaces, both directions
#
# The guest binaries are the host's own (dynamically linked; kvm-run.sh copies
# the libraries ldd names).  A first run downloads the kernel package (about
# 70 MB) into build/kvm-cache ($KVMRUN_CACHE); later runs reuse it.
# When the VM cannot run here at all (qemu missing and not root to install it,
# nothing can be downloaded) the target says SKIPPED loudly and succeeds,
# unless KVM_REQUIRED=1, which turns a skip into a failure.

VM_TIMEOUT ?= 600
VM_BINS := $(B)/tests/vm/tr_kernel_test $(B)/unit-tests
VM_FILES := $(VM_BINS) tests/vm/tr_kernel_t2.sh

.PHONY: check-kernel vm-bins

vm-bins: $(VM_BINS)

$(B)/tests/vm/tr_kernel_test: $(B)/tests/vm/tr_kernel_test.o $(B)/libctp.a
	$(call say,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $(filter %.o,$^) $(B)/libctp.a $(CORE_LIBS)

check-kernel: $(VM_BINS)
	$(call say,TEST,"kernel (qemu): $(notdir $(VM_FILES))")
	$(Q)tests/vm/check-kernel.sh $(VM_TIMEOUT) $(VM_FILES)
