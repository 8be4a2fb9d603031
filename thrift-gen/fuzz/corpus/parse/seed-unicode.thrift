struct Café { 1: string résumé = "☃ snow" }
/** déjà vu */
const string S = "🦀" # €
enum E { A​B }
�� invalid utf-8
