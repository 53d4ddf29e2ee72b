/*
 * tec-simavr-bridge: runs real AVR firmware (an Arduino Uno build) under simavr, in real time,
 * with UART0 on a pseudo-terminal, so the hub (or a test) talks to it as to a board on USB.
 * simavr's own run_avr cannot expose the UART as a pty, and libsimavrparts' uart_pty uses one
 * fixed path (/tmp/simavr-uart0) and loses output sent before the port is opened.
 *
 *   tec-simavr-bridge [--speed X] [--no-wait] [--no-reset-on-open] [-v] firmware.elf
 *
 * stdout carries events, one a line; every event ends in t=<simulated microseconds>:
 *   pty <path>                          first line: the pty to open (no t=)
 *   open t= / close t=                  the host opened / closed the pty
 *   reset cause=open|command|watchdog t=
 *   pin <D0..D13|A0..A5> <0|1> t=       an output pin changed level
 *   rx-line <TYPE> t=                   a line (its first word) entered the AVR's UART
 *   state <pin> <0|1> <in|out> t=       answer to `get`
 *   time t=                             answer to `time`
 *   ok <command…> t= / error <why>      answer to every other command
 *   stopped state=<n> t=                the firmware crashed or stopped; the bridge idles
 * stdin takes commands, one a line:
 *   set <pin> <0|1>   drive an input pin (overrides its pull-up until `release`)
 *   release <pin>     stop driving it
 *   adc <0..7> <mV>   the voltage on an analog input (AVcc = AREF = 5000 mV)
 *   get <pin> | time | reset | quit
 *   hang              jump into avr-libc's _exit (cli; endless loop): a hung loop, for the watchdog
 * End of stdin also quits.
 *
 * The AVR does not run until the host opens the pty (unless --no-wait), and every open resets it
 * and holds it in reset for 30 ms, as a Uno's DTR auto-reset does: Node's serialport discards
 * bytes that arrive right after it opens a port. Opens are seen with inotify, which (unlike
 * watching for hang-up on the master) also catches a fast close and reopen.
 *
 * --speed 1 (default) paces simulated time to wall time and never lets it run ahead, so a hub's
 * 1 Hz heartbeat is 1 Hz for the firmware too; --speed 0 runs free (about 7-9x real time here).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <avr_adc.h>
#include <avr_ioport.h>
#include <avr_uart.h>
#include <sim_avr.h>
#include <sim_elf.h>
#include <sim_irq.h>

#define HOLD_IN_RESET_US 30000
#define MAX_BEHIND_US 20000 /* further behind wall time than this: re-anchor, never sprint */

static avr_t *avr;
static elf_firmware_t fw;
static FILE *events; /* the real stdout; fd 1 itself goes to stderr (simavr printf()s there) */
static int verbose;
static double speed = 1.0;

static int master_fd = -1, slave_fd = -1, inotify_fd = -1;
static char slave_path[128];
static int host_opens;
static int running;
static uint64_t hold_until_us;

static uint8_t rx_buf[4096]; /* host -> AVR */
static size_t rx_head, rx_len;
static int uart_xoff;
static avr_irq_t *uart_in;
static char rx_word[16]; /* first word of the line being fed, for rx-line */
static size_t rx_word_len;
static int rx_word_done;

static uint8_t tx_buf[1 << 16]; /* AVR -> host */
static size_t tx_len;

static void (*core_reset)(avr_t *);
static const char *reset_cause;
static uint8_t ext_mask[3], ext_value[3]; /* driven inputs of ports B, C, D */
static int8_t out_level[3][8];            /* last reported level of each output, -1 unknown */

static uint64_t wall_us(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static uint64_t sim_us(void) {
	return (uint64_t)((unsigned __int128)avr->cycle * 1000000u / avr->frequency);
}

static void emit(const char *fmt, ...) {
	va_list ap;
	va_start(ap, fmt);
	vfprintf(events, fmt, ap);
	va_end(ap);
	fprintf(events, " t=%llu\n", (unsigned long long)sim_us());
	fflush(events);
}

static void logger(avr_t *a, const int level, const char *fmt, va_list ap) {
	(void)a;
	if (verbose || level <= LOG_WARNING) vfprintf(stderr, fmt, ap);
}

/* ---- Pins, as the Uno labels them: D0-D7 = PD0-7, D8-D13 = PB0-5, A0-A5 = PC0-5 ---- */

static int port_index(char port) { return port == 'B' ? 0 : port == 'C' ? 1 : 2; }

static int parse_pin(const char *name, char *port, int *bit) {
	char *end;
	if (name[0] != 'D' && name[0] != 'A') return -1;
	long n = strtol(name + 1, &end, 10);
	if (end == name + 1 || *end != '\0') return -1;
	if (name[0] == 'A' && n >= 0 && n <= 5) { *port = 'C'; *bit = (int)n; return 0; }
	if (name[0] == 'D' && n >= 0 && n <= 7) { *port = 'D'; *bit = (int)n; return 0; }
	if (name[0] == 'D' && n >= 8 && n <= 13) { *port = 'B'; *bit = (int)n - 8; return 0; }
	return -1;
}

static void pin_name(char port, int bit, char *out, size_t n) {
	if (port == 'D') snprintf(out, n, "D%d", bit);
	else if (port == 'B') snprintf(out, n, "D%d", bit + 8);
	else snprintf(out, n, "A%d", bit);
}

static avr_ioport_state_t port_state(char port) {
	avr_ioport_state_t st;
	memset(&st, 0, sizeof st);
	avr_ioctl(avr, AVR_IOCTL_IOPORT_GETSTATE(port), &st);
	return st;
}

static void pin_changed(avr_irq_t *irq, uint32_t value, void *param) {
	(void)irq;
	char port = (char)((intptr_t)param >> 8);
	int bit = (int)((intptr_t)param & 0xff);
	if (!(port_state(port).ddr & (1u << bit))) return; /* inputs are the test's to set */
	int8_t *last = &out_level[port_index(port)][bit];
	if (*last == (int8_t)(value & 1u)) return;
	*last = (int8_t)(value & 1u);
	char name[8];
	pin_name(port, bit, name, sizeof name);
	emit("pin %s %u", name, value & 1u);
}

/* Drives (level 0/1) or releases (-1) an input. The port's "external" state keeps the level when
 * the firmware later writes PORT (a pull-up would otherwise win); the irq's cached value is reset
 * first so the filtered irq really writes the PIN register, with no glitch through the other level. */
static void drive_pin(char port, int bit, int level) {
	int i = port_index(port);
	avr_irq_t *irq = avr_io_getirq(avr, AVR_IOCTL_IOPORT_GETIRQ(port), bit);
	if (level < 0) {
		ext_mask[i] &= (uint8_t)~(1u << bit);
		level = (port_state(port).port >> bit) & 1; /* back to the pull-up, or low when floating */
	} else {
		ext_mask[i] |= (uint8_t)(1u << bit);
		ext_value[i] = (uint8_t)((ext_value[i] & ~(1u << bit)) | ((unsigned)level << bit));
	}
	avr_ioport_external_t ext = { .name = (unsigned char)port, .mask = ext_mask[i], .value = ext_value[i] };
	avr_ioctl(avr, AVR_IOCTL_IOPORT_SET_EXTERNAL(port), &ext);
	irq->value = (uint32_t)!level;
	avr_raise_irq(irq, (uint32_t)level);
}

static void reapply_driven_pins(void) {
	static const char ports[3] = { 'B', 'C', 'D' };
	for (int i = 0; i < 3; i++)
		for (int bit = 0; bit < 8; bit++)
			if (ext_mask[i] & (1u << bit)) drive_pin(ports[i], bit, (ext_value[i] >> bit) & 1);
}

/* ---- Reset ---- */

/* Called inside avr_reset(), after it cleared the registers. */
static void on_reset(avr_t *a) {
	static const char ports[3] = { 'B', 'C', 'D' };
	if (core_reset) core_reset(a);
	emit("reset cause=%s", reset_cause ? reset_cause : "watchdog"); /* the only other source */
	reset_cause = NULL;
	uart_xoff = 0;
	for (int i = 0; i < 3; i++) {
		for (int bit = 0; bit < 8; bit++) {
			/* In reset every pin is an input: a relay output drops to its driver's pull-down. */
			if (out_level[i][bit] == 1) {
				char name[8];
				pin_name(ports[i], bit, name, sizeof name);
				emit("pin %s 0", name);
			}
			out_level[i][bit] = -1;
			/* The PIN registers are now 0; the pin irqs still hold their old values, and simavr
			 * filters a raise to the same value, so a pull-up switched on again would never reach
			 * the PIN register (an input would read low after every reset). Make them agree. */
			avr_io_getirq(avr, AVR_IOCTL_IOPORT_GETIRQ(ports[i]), bit)->value = 0;
		}
	}
}

static void reset_avr(const char *cause) {
	reset_cause = cause;
	avr_reset(avr);
	reapply_driven_pins(); /* avr_reset cleared the PIN registers */
}

/* ---- UART ---- */

static void feed_uart(void) {
	while (!uart_xoff && rx_len > 0) {
		uint8_t b = rx_buf[rx_head];
		rx_head = (rx_head + 1) % sizeof rx_buf;
		rx_len--;
		if (b == '\n') {
			rx_word[rx_word_len] = '\0';
			emit("rx-line %s", rx_word_len ? rx_word : "-");
			rx_word_len = 0;
			rx_word_done = 0;
		} else if (!rx_word_done) {
			if (b == ' ' || b == '*' || b < 0x21 || b > 0x7e || rx_word_len == sizeof rx_word - 1) rx_word_done = 1;
			else rx_word[rx_word_len++] = (char)b;
		}
		avr_raise_irq(uart_in, b); /* may call uart_xoff_hook before it returns */
	}
}

static void uart_out_hook(avr_irq_t *irq, uint32_t value, void *param) {
	(void)irq; (void)param;
	if (tx_len < sizeof tx_buf) tx_buf[tx_len++] = (uint8_t)value; /* nobody reading: drop */
}

static void uart_xon_hook(avr_irq_t *irq, uint32_t value, void *param) {
	(void)irq; (void)value; (void)param;
	uart_xoff = 0;
	feed_uart();
}

static void uart_xoff_hook(avr_irq_t *irq, uint32_t value, void *param) {
	(void)irq; (void)value; (void)param;
	uart_xoff = 1;
}

/* ---- The pty and the host ---- */

static void open_pty(void) {
	struct termios tio;
	if (openpty(&master_fd, &slave_fd, slave_path, NULL, NULL) < 0) { perror("openpty"); exit(1); }
	/* Raw 8N1; we keep the slave open ourselves so the master never sees a hang-up. */
	tcgetattr(slave_fd, &tio);
	cfmakeraw(&tio);
	cfsetspeed(&tio, B115200);
	tcsetattr(slave_fd, TCSANOW, &tio);
	fcntl(master_fd, F_SETFL, fcntl(master_fd, F_GETFL) | O_NONBLOCK);
	inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (inotify_fd < 0 || inotify_add_watch(inotify_fd, slave_path, IN_OPEN | IN_CLOSE_WRITE | IN_CLOSE_NOWRITE) < 0) {
		perror("inotify");
		exit(1);
	}
}

static void host_opened(int reset_on_open) {
	emit("open");
	/* Board output nobody read (before a close) must not reach the new reader; what the new host
	 * already wrote is kept and reaches the board after the reset hold. */
	tcflush(slave_fd, TCIFLUSH);
	tx_len = 0;
	if (reset_on_open || !running) {
		reset_avr("open");
		hold_until_us = wall_us() + HOLD_IN_RESET_US;
	}
	running = 1;
}

static void read_inotify(int reset_on_open) {
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t n;
	while ((n = read(inotify_fd, buf, sizeof buf)) > 0) {
		for (char *p = buf; p < buf + n; p += sizeof(struct inotify_event) + ((struct inotify_event *)p)->len) {
			const struct inotify_event *ev = (const struct inotify_event *)p;
			if (ev->mask & IN_OPEN) {
				if (host_opens++ == 0) host_opened(reset_on_open);
			} else if (ev->mask & (IN_CLOSE_WRITE | IN_CLOSE_NOWRITE)) {
				if (host_opens > 0 && --host_opens == 0) emit("close");
			}
		}
	}
}

static void pump_pty(void) {
	while (rx_len < sizeof rx_buf) {
		uint8_t tmp[512];
		size_t room = sizeof rx_buf - rx_len;
		ssize_t n = read(master_fd, tmp, room < sizeof tmp ? room : sizeof tmp);
		if (n <= 0) break;
		for (ssize_t i = 0; i < n; i++) rx_buf[(rx_head + rx_len++) % sizeof rx_buf] = tmp[i];
	}
	feed_uart();
	if (tx_len > 0) {
		ssize_t n = write(master_fd, tx_buf, tx_len);
		if (n > 0) {
			memmove(tx_buf, tx_buf + n, tx_len - (size_t)n);
			tx_len -= (size_t)n;
		}
	}
}

/* ---- Commands on stdin ---- */

static void command(char *line) {
	char *argv[4] = { 0 };
	int argc = 0;
	for (char *tok = strtok(line, " \t\r"); tok && argc < 4; tok = strtok(NULL, " \t\r")) argv[argc++] = tok;
	if (argc == 0) return;
	char port;
	int bit;
	if (!strcmp(argv[0], "quit")) {
		exit(0);
	} else if (!strcmp(argv[0], "time")) {
		emit("time");
	} else if (!strcmp(argv[0], "reset")) {
		reset_avr("command");
		emit("ok reset");
	} else if (!strcmp(argv[0], "hang")) {
		for (uint32_t i = 0; i < fw.symbolcount; i++) {
			if (!strcmp(fw.symbol[i]->symbol, "_exit")) {
				avr->pc = fw.symbol[i]->addr; /* _exit: cli, then rjmp to itself */
				emit("ok hang pc=0x%x", fw.symbol[i]->addr);
				return;
			}
		}
		emit("error hang: no _exit symbol in the firmware");
	} else if ((!strcmp(argv[0], "set") || !strcmp(argv[0], "release") || !strcmp(argv[0], "get")) &&
		   argc >= 2 && parse_pin(argv[1], &port, &bit) == 0) {
		if (!strcmp(argv[0], "get")) {
			avr_ioport_state_t st = port_state(port);
			int out = (st.ddr >> bit) & 1;
			emit("state %s %d %s", argv[1], ((out ? st.port : st.pin) >> bit) & 1, out ? "out" : "in");
		} else if (!strcmp(argv[0], "release")) {
			drive_pin(port, bit, -1);
			emit("ok release %s", argv[1]);
		} else if (argc == 3 && (!strcmp(argv[2], "0") || !strcmp(argv[2], "1"))) {
			drive_pin(port, bit, argv[2][0] - '0');
			emit("ok set %s %s", argv[1], argv[2]);
		} else {
			emit("error usage: set <pin> <0|1>");
		}
	} else if (!strcmp(argv[0], "adc") && argc == 3) {
		long ch = strtol(argv[1], NULL, 10), mv = strtol(argv[2], NULL, 10);
		if (ch < 0 || ch > 7 || mv < 0 || mv > 5000) { emit("error usage: adc <0..7> <0..5000>"); return; }
		avr_raise_irq(avr_io_getirq(avr, AVR_IOCTL_ADC_GETIRQ, ADC_IRQ_ADC0 + (int)ch), (uint32_t)mv);
		emit("ok adc %ld %ld", ch, mv);
	} else {
		emit("error unknown command: %s", argv[0]);
	}
}

static void read_stdin(void) {
	static char buf[512];
	static size_t len;
	ssize_t n = read(STDIN_FILENO, buf + len, sizeof buf - 1 - len);
	if (n == 0) exit(0); /* the test (or whoever started us) is gone */
	if (n < 0) return;
	len += (size_t)n;
	char *nl;
	while ((nl = memchr(buf, '\n', len)) != NULL) {
		*nl = '\0';
		command(buf);
		len -= (size_t)(nl + 1 - buf);
		memmove(buf, nl + 1, len);
	}
	if (len == sizeof buf - 1) len = 0; /* an endless line: drop it */
}

/* Waits for I/O at most timeout_us (0: just look) and serves what is ready. */
static void service(uint64_t timeout_us, int reset_on_open) {
	struct pollfd fds[3] = {
		{ .fd = STDIN_FILENO, .events = POLLIN },
		{ .fd = inotify_fd, .events = POLLIN },
		{ .fd = master_fd, .events = (short)((rx_len < sizeof rx_buf ? POLLIN : 0) | (tx_len ? POLLOUT : 0)) },
	};
	struct timespec ts = { .tv_sec = (time_t)(timeout_us / 1000000u), .tv_nsec = (long)(timeout_us % 1000000u) * 1000 };
	if (ppoll(fds, 3, &ts, NULL) <= 0) return;
	if (fds[0].revents & (POLLIN | POLLHUP)) read_stdin();
	if (fds[1].revents & POLLIN) read_inotify(reset_on_open);
	if (fds[2].revents & (POLLIN | POLLOUT)) pump_pty();
}

static void usage(void) {
	fprintf(stderr, "usage: tec-simavr-bridge [--speed X] [--no-wait] [--no-reset-on-open] [-v] firmware.elf\n");
	exit(2);
}

int main(int argc, char **argv) {
	int wait_for_open = 1, reset_on_open = 1;
	const char *elf = NULL;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--speed") && i + 1 < argc) speed = atof(argv[++i]);
		else if (!strcmp(argv[i], "--no-wait")) wait_for_open = 0;
		else if (!strcmp(argv[i], "--no-reset-on-open")) reset_on_open = 0;
		else if (!strcmp(argv[i], "-v")) verbose = 1;
		else if (argv[i][0] == '-' || elf) usage();
		else elf = argv[i];
	}
	if (!elf) usage();

	int events_fd = dup(STDOUT_FILENO);
	dup2(STDERR_FILENO, STDOUT_FILENO);
	events = fdopen(events_fd, "w");
	avr_global_logger_set(logger);

	if (elf_read_firmware(elf, &fw) != 0) { fprintf(stderr, "cannot read %s\n", elf); return 1; }
	if (!fw.mmcu[0]) strcpy(fw.mmcu, "atmega328p"); /* an Arduino ELF carries no .mmcu section */
	if (!fw.frequency) fw.frequency = 16000000;
	avr = avr_make_mcu_by_name(fw.mmcu);
	if (!avr) { fprintf(stderr, "unknown MCU %s\n", fw.mmcu); return 1; }
	avr_init(avr);
	avr_load_firmware(avr, &fw);
	avr->vcc = avr->avcc = avr->aref = 5000; /* the ADC scales against these (millivolts) */
	core_reset = avr->reset;
	avr->reset = on_reset;

	/* simavr sleeps on every idle UART status poll and echoes lines to the console by default. */
	uint32_t flags = 0;
	avr_ioctl(avr, AVR_IOCTL_UART_SET_FLAGS('0'), &flags);
	uart_in = avr_io_getirq(avr, AVR_IOCTL_UART_GETIRQ('0'), UART_IRQ_INPUT);
	avr_irq_register_notify(avr_io_getirq(avr, AVR_IOCTL_UART_GETIRQ('0'), UART_IRQ_OUTPUT), uart_out_hook, NULL);
	avr_irq_register_notify(avr_io_getirq(avr, AVR_IOCTL_UART_GETIRQ('0'), UART_IRQ_OUT_XON), uart_xon_hook, NULL);
	avr_irq_register_notify(avr_io_getirq(avr, AVR_IOCTL_UART_GETIRQ('0'), UART_IRQ_OUT_XOFF), uart_xoff_hook, NULL);
	static const char ports[3] = { 'B', 'C', 'D' };
	for (int i = 0; i < 3; i++)
		for (int bit = 0; bit < 8; bit++)
			avr_irq_register_notify(avr_io_getirq(avr, AVR_IOCTL_IOPORT_GETIRQ(ports[i]), bit), pin_changed,
						(void *)(intptr_t)((ports[i] << 8) | bit));

	memset(out_level, -1, sizeof out_level);
	open_pty();
	fprintf(events, "pty %s\n", slave_path);
	fflush(events);
	running = !wait_for_open;

	const avr_cycle_count_t slice = avr->frequency / 1000; /* 1 ms of simulated time */
	uint64_t wall0 = wall_us(), sim0 = sim_us();
	for (;;) {
		uint64_t now = wall_us();
		if (!running || now < hold_until_us) {
			service(!running ? 100000 : hold_until_us - now, reset_on_open);
			wall0 = wall_us(); /* sim time stood still: do not catch up */
			sim0 = sim_us();
			continue;
		}
		avr_cycle_count_t target = avr->cycle + slice;
		while (avr->cycle < target) {
			int state = avr_run(avr);
			if (state == cpu_Done || state == cpu_Crashed) {
				emit("stopped state=%d", state);
				running = 0;
				break;
			}
		}
		uint64_t timeout = 0;
		if (speed > 0) {
			double ahead = (double)(sim_us() - sim0) / speed - (double)(wall_us() - wall0);
			if (ahead > 0) timeout = (uint64_t)ahead;
			else if (ahead < -MAX_BEHIND_US) { wall0 = wall_us(); sim0 = sim_us(); }
		}
		service(timeout, reset_on_open);
	}
}
