namespace rs base_service

/** Every service can be pinged. */
service Base {
  /** Liveness. */
  string ping(1: string who),
}
