q = Question
fin = Merci
orphan = Personne ne vient ici
