/**
 * The smallest useful service: the echo example and the RPC benchmarks use it.
 */
namespace rs echo
namespace py echo

/** How loud an echo comes back. */
enum Volume {
  QUIET = 1,
  NORMAL = 2,
  LOUD = 3,
}

typedef string Text

/** The longest message the example server accepts, in bytes. */
const i32 MAX_MESSAGE_LEN = 65536

/** Default volume for clients that do not choose. */
const Volume DEFAULT_VOLUME = Volume.NORMAL
