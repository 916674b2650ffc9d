/*
 * Portico's version: one definition for the CLI (-v), the Server header,
 * error pages and $portico_version.
 */
#ifndef PT_VERSION_H
#define PT_VERSION_H

#define PORTICO_VERSION "0.1.0"

#endif /* PT_VERSION_H */
