start = Boucle?
start-loop = Oui
start-done = Non
l1 = Un
l2 = Deux
fin = Merci
