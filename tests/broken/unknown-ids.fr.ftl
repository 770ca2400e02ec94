q = Question
q-yes = Oui
q-no = Non
r = Couleur
fin = Merci
