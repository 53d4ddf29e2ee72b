/**
 * Who may log in, and how long a login lasts. Kiosk screens (pupils) never log in; instructors use
 * a PIN, technicians a password. Either may be given as a scrypt hash instead, so a config kept in
 * git need not hold the secret itself.
 */
import { z } from "zod";

/** `scrypt$<N>$<salt, base64>$<hash, base64>`; r = 8 and p = 1 (Node's defaults). */
export const SECRET_HASH_PATTERN = /^scrypt\$(\d{1,7})\$([A-Za-z0-9+/]+={0,2})\$([A-Za-z0-9+/]+={0,2})$/;

const SecretHash = z
  .string()
  .regex(SECRET_HASH_PATTERN, 'must look like "scrypt$<N>$<salt base64>$<hash base64>"')
  .refine((s) => {
    const n = Number(SECRET_HASH_PATTERN.exec(s)?.[1]);
    // A power of two; 2^20 at r = 8 already needs 1 GiB per check, which no hub should spend on a login.
    return Number.isInteger(Math.log2(n)) && n >= 2 ** 10 && n <= 2 ** 20;
  }, "N must be a power of two from 1024 to 1048576")
  .refine((s) => {
    const m = SECRET_HASH_PATTERN.exec(s);
    return m !== null && Buffer.from(m[2] ?? "", "base64").length >= 8 && Buffer.from(m[3] ?? "", "base64").length >= 16;
  }, "the salt must be at least 8 bytes and the hash at least 16 bytes");

const UserName = z
  .string()
  .regex(/^[a-z0-9][a-z0-9._-]{0,47}$/, "must be lower-case letters, digits, dots, dashes or underscores (at most 48)")
  // The kiosk and the hub itself appear as actors in the audit log under these names.
  .refine((n) => n !== "kiosk" && n !== "system", "is reserved");

const Instructor = z
  .object({
    name: UserName,
    role: z.literal("instructor"),
    /** 4 to 8 digits, typed on the kiosk's tablet; at least 6 in a new config (check-config warns). */
    pin: z.string().regex(/^\d{4,8}$/, "must be 4 to 8 digits").optional(),
    secretHash: SecretHash.optional(),
  })
  .strict();

const Technician = z
  .object({
    name: UserName,
    role: z.literal("technician"),
    /** At least 8 characters. */
    password: z.string().min(8, "must be at least 8 characters").max(200).optional(),
    secretHash: SecretHash.optional(),
  })
  .strict();

export const UserConfig = z
  .discriminatedUnion("role", [Instructor, Technician])
  .superRefine((u, ctx) => {
    const plain = u.role === "instructor" ? "pin" : "password";
    const given = (u.role === "instructor" ? u.pin : u.password) !== undefined;
    if (given && u.secretHash !== undefined) ctx.addIssue({ code: "custom", path: ["secretHash"], message: `give either ${plain} or secretHash, not both` });
    if (!given && u.secretHash === undefined) ctx.addIssue({ code: "custom", path: [plain], message: `an ${u.role} needs a ${plain} or a secretHash` });
  });
export type UserConfig = z.infer<typeof UserConfig>;

/** Nobody by default: with no users the hub is kiosk-only, rather than open with a default password. */
export const UsersConfig = z
  .array(UserConfig)
  .superRefine((users, ctx) => {
    const seen = new Map<string, number>();
    users.forEach((u, i) => {
      const first = seen.get(u.name);
      if (first !== undefined) ctx.addIssue({ code: "custom", path: [i, "name"], message: `duplicate user name "${u.name}" (also users.${first})` });
      else seen.set(u.name, i);
    });
  })
  .default([]);
export type UsersConfig = z.infer<typeof UsersConfig>;

/**
 * Sessions, and how guessing is kept in check (hub/src/api/auth.ts). Wrong logins are counted per
 * source address (IPv4, or an IPv6 /64) and per account, never per name alone: a stranger's
 * wrong PINs must not lock the instructor out from her own tablet.
 *
 * - An address gets `freeFailures` wrong logins for nothing (typos); after each further one it
 *   waits `backoffSeconds`, doubling up to `maxBackoffSeconds`, and is refused before any hashing
 *   meanwhile. Other addresses are not affected.
 * - An account takes `guessBudget` wrong secrets within `failureMemoryHours`; then technicians get
 *   an alarm, and until the window has passed only addresses that have not used up their free
 *   failures may try it. So a school day allows at most guessBudget guesses, plus freeFailures
 *   for each address an attacker can use: about 780 from a whole /24, a 1 in 1,280 chance against
 *   a 6-digit PIN (1 in 13 against 4 digits; check-config warns about PINs shorter than 6).
 */
export const SessionsConfig = z
  .object({
    /**
     * An instructor's login ends this long after it began, used or not (minutes). The default
     * outlasts the longest visit (480 min) on a school day; the console warns before it ends.
     */
    instructorMinutes: z.number().int().min(1).max(720).default(540),
    /** A technician's login ends this long after it began (minutes). */
    technicianMinutes: z.number().int().min(1).max(1440).default(480),
    /** Wrong logins from one address that cost it no wait: typos. */
    freeFailures: z.number().int().min(1).max(10).default(3),
    /** The wait after the first wrong login beyond the free ones; it doubles with each further one (s). */
    backoffSeconds: z.number().int().min(1).max(60).default(2),
    /** The longest wait an address is given (s). */
    maxBackoffSeconds: z.number().int().min(10).max(3600).default(900),
    /** Wrong secrets for one account within `failureMemoryHours` before the alarm and the guard. */
    guessBudget: z.number().int().min(3).max(1000).default(20),
    /** How long wrong logins are remembered, per address and per account (h): a school day. */
    failureMemoryHours: z.number().min(1).max(72).default(12),
  })
  .strict()
  .refine((s) => s.backoffSeconds <= s.maxBackoffSeconds, { path: ["backoffSeconds"], message: "must not be longer than maxBackoffSeconds" })
  .default({ instructorMinutes: 540, technicianMinutes: 480, freeFailures: 3, backoffSeconds: 2, maxBackoffSeconds: 900, guessBudget: 20, failureMemoryHours: 12 });
export type SessionsConfig = z.infer<typeof SessionsConfig>;

/** Shorter PINs are accepted (existing configs keep working) but check-config warns about them. */
export const RECOMMENDED_PIN_DIGITS = 6;
