/* libbpf's own messages through util/log.h: shown with -v (warnings and info)
 * and -vv (debug), prefixed "libbpf: ". Installed once by each program's main. */
#ifndef CT_PROBES_BPF_LOG_H
#define CT_PROBES_BPF_LOG_H

void bpf_log__install(void);

#endif
