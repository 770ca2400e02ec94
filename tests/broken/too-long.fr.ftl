q = Choisissez
q-short = Court
q-long = Une option beaucoup trop longue Une option beaucoup trop longue Une option beaucoup trop longue Une option beaucoup trop longue Une option beaucoup trop longue Une option beaucoup trop longue Une option beaucoup trop longue
fin = Merci pour votre reponse Merci pour votre reponse Merci pour votre reponse Merci pour votre reponse Merci pour votre reponse Merci pour votre reponse Merci pour votre reponse Merci pour votre reponse Merci pour votre reponse
