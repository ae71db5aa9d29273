/* SPDX-License-Identifier: BSD-2-Clause */
/* fpmd_coro_switch(void **save_sp, void *load_sp): saves the callee-saved
 * state of the running context on its stack, stores the stack pointer in
 * *save_sp, and resumes the context whose stack pointer is load_sp. The
 * floating-point control state (MXCSR and x87 control word; FPCR) is part
 * of what is switched: a handler that changes rounding must not change it
 * for the next one. The frame layout must match coro.c's initial frame. */

#if defined(__x86_64__)
        .text
        .globl  fpmd_coro_switch
        .type   fpmd_coro_switch, @function
        .p2align 4
fpmd_coro_switch:
        .cfi_startproc
        pushq   %rbp
        pushq   %rbx
        pushq   %r12
        pushq   %r13
        pushq   %r14
        pushq   %r15
        subq    $16, %rsp
        stmxcsr 8(%rsp)
        fnstcw  (%rsp)
        movq    %rsp, (%rdi)
        movq    %rsi, %rsp
        ldmxcsr 8(%rsp)
        fldcw   (%rsp)
        addq    $16, %rsp
        popq    %r15
        popq    %r14
        popq    %r13
        popq    %r12
        popq    %rbx
        popq    %rbp
        ret
        .cfi_endproc
        .size   fpmd_coro_switch, .-fpmd_coro_switch

#elif defined(__aarch64__)
        .text
        .globl  fpmd_coro_switch
        .type   fpmd_coro_switch, %function
        .p2align 4
fpmd_coro_switch:
        sub     sp, sp, #176
        stp     x19, x20, [sp, #0]
        stp     x21, x22, [sp, #16]
        stp     x23, x24, [sp, #32]
        stp     x25, x26, [sp, #48]
        stp     x27, x28, [sp, #64]
        stp     x29, x30, [sp, #80]
        stp     d8, d9, [sp, #96]
        stp     d10, d11, [sp, #112]
        stp     d12, d13, [sp, #128]
        stp     d14, d15, [sp, #144]
        mrs     x9, fpcr
        str     x9, [sp, #160]
        mov     x9, sp
        str     x9, [x0]
        mov     sp, x1
        ldp     x19, x20, [sp, #0]
        ldp     x21, x22, [sp, #16]
        ldp     x23, x24, [sp, #32]
        ldp     x25, x26, [sp, #48]
        ldp     x27, x28, [sp, #64]
        ldp     x29, x30, [sp, #80]
        ldp     d8, d9, [sp, #96]
        ldp     d10, d11, [sp, #112]
        ldp     d12, d13, [sp, #128]
        ldp     d14, d15, [sp, #144]
        ldr     x9, [sp, #160]
        msr     fpcr, x9
        add     sp, sp, #176
        ret
        .size   fpmd_coro_switch, .-fpmd_coro_switch
#endif

#if defined(__linux__) && defined(__ELF__)
        .section .note.GNU-stack, "", %progbits
#endif
