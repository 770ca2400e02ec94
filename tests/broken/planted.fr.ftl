mineral = Quel minerai extrayez-vous ?
mineral-gold = Or
mineral-tin = Cassiterite
place = Ou travaillez-vous, malade de { $illness } ?
burn = Où brûlez-vous l'amalgame ?
burn-yes = Oui
burn-no = Non
burn-non = Non
illness = Quelle maladie ?
people = Combien de personnes ?
fin = { $people ->
    [zero] Personne.
    [one] Une personne.
   *[other] { $people } personnes.
  } Merci.
