# tests/vm/vm.mk: the kernel tests that run under qemu (`make check-kernel`,
# part of `make check`), included by the Makefile.  The host kernel has no
# SCTP (nor ESP), so these boot Debian's stock kernel under qemu
# (tests/vm/kvm-run.sh, TCG unless the machine has real VT-x/AMD-V) ONCE and
# run tests/vm/runall.sh inside it:
#
#   unit-tests tr_kernel  the transport's unit tests, for real this time
#   tr_kernel_test t1  kernel SCTP <-> kernel SCTP, IPv4 and IPv6
#   tr_kernel_t2.sh    kernel SCTP with RFC 6951 UDP encapsulation <-> usrsctp,
#                      in two network namespaces, both directions
#   xfrm_test.sh       the xfrm SAD backend (ESP SAs and SPD entries through
#                      NETLINK_XFRM) in two network namespaces: traffic,
#                      freeze, a transfer from snapshots, the replay window
#   ctpd_kernel.sh     ctpd daemons on kernel SCTP (TLS): native between two
#                      namespaces, and kernel (UDP-encapsulated) <-> usrsctp;
#                      a real handover through them each time (mld plugin)
#   ipsec_chain.sh manual  the ipsec plugin's xfrm backend: MN, pAR, nAR, S,
#                      S' and G in namespaces; ESP SAs (AES-GCM, AES-CBC +
#                      HMAC-SHA-256, ESN, anti-replay) between the MN and S
#                      move to S' by CXTP; traffic goes on; counters checked
#   ipsec_chain.sh ike the same, the SAs negotiated by strongSwan's charon
#   ipsec_policy.sh    security ipsec refuses a peer no ESP policy covers,
#                      accepts it once one does
#
# The guest binaries are the host's own (dynamically linked; kvm-run.sh copies
# the libraries ldd names), strongSwan's included (-p).  A first run downloads
# the kernel package (about 70 MB) into build/kvm-cache ($KVMRUN_CACHE); later
# runs reuse it.  When the VM cannot run here at all (qemu missing and not
# root to install it, nothing can be downloaded) the target says SKIPPED
# loudly and succeeds, unless KVM_REQUIRED=1, which turns a skip into a
# failure; a missing strongSwan skips the IKE test alone, as loudly.
#
# `make coverage` (scripts/coverage.sh) builds everything again with
# --coverage in build-cov/, runs the host tests and this same guest run, and
# merges the guest's .gcda files with the host's into one report.

VM_TIMEOUT ?= 900
VM_BINS := $(B)/tests/vm/tr_kernel_test $(B)/unit-tests $(B)/tests/vm/xfrm_drv
VM_SCRIPTS := tests/vm/tr_kernel_t2.sh tests/vm/xfrm_test.sh tests/vm/vmlib.sh tests/vm/ike.sh \
	tests/vm/ctpd_kernel.sh tests/vm/ipsec_chain.sh tests/vm/ipsec_policy.sh
# ctpd and its tools, the plugins (a folder), the test PKI (a folder)
VM_FILES := $(VM_BINS) $(VM_SCRIPTS) $(PROGS) $(B)/plugins $(B)/tests/vm/pki
# strongSwan for ipsec_chain.sh ike, at its own paths; glibc loads libgcc_s
# for pthread_cancel without ldd saying so
VM_PATHS := $(wildcard /usr/lib/ipsec /usr/sbin/swanctl /lib/x86_64-linux-gnu/libgcc_s.so.1)

.PHONY: check-kernel vm-bins coverage

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

# A laboratory PKI for the daemons in the guest (made anew when missing).
$(B)/tests/vm/pki/ca.pem: tests/certs/make.sh
	$(call say,GEN,$(dir $@))
	$(Q)rm -rf $(dir $@) && tests/certs/make.sh $(dir $@) par nar pr nr s sp > /dev/null

# With COVERAGE=1 the guest's .gcda files come back to $(B)/gcov-guest
# (runall.sh), for scripts/coverage.sh to merge.
ifeq ($(COVERAGE),1)
VM_COV = -9 $(abspath $(B))/gcov-guest
VM_ENV = KVMRUN_APPEND="GCOV_PREFIX=/tmp/gcov CTP_GCOV_OUT=$(abspath $(B))/gcov-guest"
endif

check-kernel: all $(VM_BINS) $(B)/tests/vm/pki/ca.pem
	$(call say,TEST,"kernel (qemu): $(notdir $(VM_BINS) $(VM_SCRIPTS))")
	$(if $(VM_COV),@rm -rf $(B)/gcov-guest && mkdir -p $(B)/gcov-guest)
	$(Q)$(VM_ENV) tests/vm/check-kernel.sh $(VM_TIMEOUT) $(VM_PATHS:%=-p %) $(VM_COV) $(VM_FILES)

# make check runs the guest too (check-kernel.sh skips loudly without qemu)
tests: check-kernel

coverage:
	$(Q)scripts/coverage.sh
